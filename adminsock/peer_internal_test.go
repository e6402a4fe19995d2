package adminsock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// helperEnv switches the test binary into "connect and try GET" mode.
const helperEnv = "ADMINSOCK_TEST_HELPER_SOCKET"

const helperNoResponse = 3

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(helperMain(path))
	}
	os.Exit(m.Run())
}

func helperMain(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://admin/", nil)
	resp, err := Client(path).Do(req)
	if err != nil {
		fmt.Println("no response:", err)
		return helperNoResponse
	}
	resp.Body.Close()
	fmt.Println("got response:", resp.Status)
	return 0
}

// runAsNobody runs the helper as uid/gid 65534 against the socket at path
// and fails the test unless it got no response. It returns the helper's output.
func runAsNobody(t *testing.T, path string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another uid")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary lives in a 0700 build directory: copy it where
	// nobody can execute it.
	dir := openDir(t)
	bin := filepath.Join(dir, "helper.test")
	data, err := os.ReadFile(self)
	if err == nil {
		err = os.WriteFile(bin, data, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != helperNoResponse {
		t.Fatalf("helper as nobody: %v, output:\n%s", err, out)
	}
	return string(out)
}

// openDir returns a directory everybody can search.
func openDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "adminsock")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// listenOpen serves h on a world-accessible socket (0777 in a 0755
// directory) behind a peerListener with policy allow.
func listenOpen(t *testing.T, h http.Handler, allow func(Peer) bool) (path string, log *syncBuf) {
	t.Helper()
	path = filepath.Join(openDir(t), "s.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err == nil {
		err = os.Chmod(path, 0o777)
	}
	if err != nil {
		t.Fatal(err)
	}
	log = &syncBuf{}
	pl := &peerListener{UnixListener: ul, allow: allow,
		log: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	srv := &http.Server{Handler: h, ConnContext: connContext}
	go srv.Serve(pl)
	t.Cleanup(func() { srv.Close() })
	return path, log
}

func TestAllowPeer(t *testing.T) {
	const self = 1000 // a fake server uid
	for _, tc := range []struct {
		uid  int
		want bool
	}{{self, true}, {0, true}, {65534, false}, {1001, false}} {
		if got := allowPeer(Peer{UID: tc.uid, PID: 1}, self); got != tc.want {
			t.Errorf("allowPeer(uid %d, self %d) = %v, want %v", tc.uid, self, got, tc.want)
		}
	}
}

// TestRejectedConnectionClosed checks that a peer failing the check is
// disconnected before any request is served, and logged with uid and pid.
func TestRejectedConnectionClosed(t *testing.T) {
	var served atomic.Bool
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served.Store(true) })
	path, log := listenOpen(t, h, func(Peer) bool { return false })

	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: admin\r\n\r\n")
	n, err := c.Read(make([]byte, 512))
	if n != 0 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("read from rejected connection = %d, %v; want EOF or reset", n, err)
	}
	if served.Load() {
		t.Error("handler ran for a rejected peer")
	}
	want := fmt.Sprintf("uid=%d gid=%d pid=%d", os.Geteuid(), os.Getegid(), os.Getpid())
	if l := log.String(); !strings.Contains(l, "rejected peer") || !strings.Contains(l, want) {
		t.Errorf("log = %q, want rejected peer with %q", l, want)
	}
}

// TestRejectedOtherUID runs a real client as nobody against a socket
// nobody can reach, so the SO_PEERCRED check is what stops it.
func TestRejectedOtherUID(t *testing.T) {
	var served atomic.Bool
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served.Store(true) })
	self := os.Geteuid()
	path, log := listenOpen(t, h, func(p Peer) bool { return allowPeer(p, self) })
	out := runAsNobody(t, path)
	if served.Load() {
		t.Error("handler ran for uid 65534")
	}
	if l := log.String(); !strings.Contains(l, "rejected peer") || !strings.Contains(l, "uid=65534 gid=65534 pid=") {
		t.Errorf("log = %q, want rejected uid 65534 (helper said %q)", l, out)
	}
}

// TestServeOtherUID runs a client as nobody against a real Serve socket:
// the 0700 directory and 0600 socket already stop it at connect.
func TestServeOtherUID(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := SocketPath(dir)
	var served atomic.Bool
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served.Store(true) })
	ctx, cancel := context.WithCancel(context.Background())
	ready, errc := make(chan struct{}), make(chan error, 1)
	go func() { errc <- Serve(ctx, path, h, nil, ready) }()
	defer func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(20 * time.Second):
			t.Error("Serve did not return")
		}
	}()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve not ready")
	}
	out := runAsNobody(t, path)
	t.Logf("helper: %s", strings.TrimSpace(out))
	if served.Load() {
		t.Error("handler ran for uid 65534")
	}
}
