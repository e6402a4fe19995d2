package adminsock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psre/appliance/adminsock"
)

const wait = 10 * time.Second

// syncBuf is a log sink safe for concurrent use.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// serve runs Serve in the background until the returned stop is called
// (or the test ends); stop returns Serve's result.
func serve(t *testing.T, path string, h http.Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(&syncBuf{}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- adminsock.Serve(ctx, path, h, log, ready) }()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("Serve: %v", err)
	case <-time.After(wait):
		t.Fatal("Serve not ready")
	}
	var once sync.Once
	var res error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case res = <-errc:
			case <-time.After(2 * wait):
				t.Fatal("Serve did not return after cancel")
			}
		})
		return res
	}
	t.Cleanup(func() { stop() })
	return stop
}

// stateDir returns a private (0700) directory, as the appliance's state
// directory is; t.TempDir's are 0755.
func stateDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func get(t *testing.T, path, url string, out any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := adminsock.Client(path).Do(req)
	if err != nil {
		return err
	}
	return adminsock.DecodeResponse(resp, out)
}

func TestRoundTripAndLifecycle(t *testing.T) {
	path := adminsock.SocketPath(stateDir(t))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := adminsock.PeerFromContext(r.Context())
		if !ok {
			adminsock.WriteProblem(w, adminsock.Problem{Status: 500, Detail: "no peer"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p)
	})
	stop := serve(t, path, h)

	var got adminsock.Peer
	if err := get(t, path, "http://admin/whoami", &got); err != nil {
		t.Fatal(err)
	}
	if got.UID != os.Geteuid() || got.PID != os.Getpid() {
		t.Errorf("peer = %+v, want uid %d pid %d", got, os.Geteuid(), os.Getpid())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want socket 0600", fi.Mode())
	}
	if !adminsock.Running(path) {
		t.Error("Running = false while serving")
	}

	if err := stop(); err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after shutdown: %v", err)
	}
	if adminsock.Running(path) {
		t.Error("Running = true after shutdown")
	}
}

func TestInUseAndStale(t *testing.T) {
	path := adminsock.SocketPath(stateDir(t))

	// A stale socket file: bound, then closed without unlinking.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket file missing: %v", err)
	}
	if adminsock.Running(path) {
		t.Fatal("Running = true on a stale socket")
	}

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	serve(t, path, ok)
	if err := get(t, path, "http://admin/", nil); err != nil {
		t.Fatalf("after replacing stale socket: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- adminsock.Serve(ctx, path, ok, nil, nil) }()
	select {
	case err := <-errc:
		if !errors.Is(err, adminsock.ErrInUse) {
			t.Fatalf("second Serve = %v, want ErrInUse", err)
		}
	case <-time.After(wait):
		t.Fatal("second Serve did not return")
	}
	// The first server must be untouched.
	if err := get(t, path, "http://admin/", nil); err != nil {
		t.Fatalf("first server after second Serve: %v", err)
	}
}

func TestServeRejectsOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	err := adminsock.Serve(context.Background(), adminsock.SocketPath(dir), http.NotFoundHandler(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "0700") {
		t.Fatalf("Serve in a 0755 directory = %v, want mode error", err)
	}
}

func TestProblemRoundTrip(t *testing.T) {
	rec := httptest.NewRecorder()
	want := adminsock.Problem{Type: "urn:psre:revoked", Title: "Already revoked", Status: 409, Detail: "serial 42"}
	adminsock.WriteProblem(rec, want)
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	err := adminsock.DecodeResponse(rec.Result(), nil)
	var p *adminsock.Problem
	if !errors.As(err, &p) || *p != want {
		t.Fatalf("DecodeResponse = %#v, want %#v", err, want)
	}
	if s := p.Error(); !strings.Contains(s, "Already revoked") || !strings.Contains(s, "409") || !strings.Contains(s, "serial 42") {
		t.Errorf("Error() = %q", s)
	}
}

func TestDecodeNonJSONError(t *testing.T) {
	rec := httptest.NewRecorder()
	http.Error(rec, "boom: token not logged in", http.StatusInternalServerError)
	err := adminsock.DecodeResponse(rec.Result(), nil)
	var p *adminsock.Problem
	if !errors.As(err, &p) {
		t.Fatalf("DecodeResponse = %v, want *Problem", err)
	}
	if p.Status != 500 || p.Title != "Internal Server Error" || p.Detail != "boom: token not logged in" {
		t.Errorf("problem = %+v", p)
	}
}

func TestDecodeSuccess(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	io.WriteString(rec, `{"serial":"42"}`)
	var out struct{ Serial string }
	if err := adminsock.DecodeResponse(rec.Result(), &out); err != nil || out.Serial != "42" {
		t.Fatalf("DecodeResponse = %v, %+v", err, out)
	}
}
