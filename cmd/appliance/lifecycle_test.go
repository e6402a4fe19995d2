package main_test

// Tests that change a demo state directory, each in its own: re-running the
// demo, serving, and a ceremony that must refuse an existing key label.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var demoTokens = []string{"root", "ca", "users"}

// tokenSnapshot is every token's full object listing.
func tokenSnapshot(t *testing.T, dir string) map[string][]string {
	t.Helper()
	snap := map[string][]string{}
	for _, tok := range demoTokens {
		snap[tok] = objectTexts(t, dir, tok)
	}
	return snap
}

func TestDemoLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	initDemo(t, dir)
	// Everything but the database (bbolt rewrites its meta page on open).
	stateFiles := []string{"pki", "pins", "ceremonies", "softhsm2.conf", "transcript.jsonl"}
	files := readTree(t, dir, stateFiles...)
	tokens := tokenSnapshot(t, dir)
	if len(tokens["ca"]) == 0 || len(tokens["root"]) == 0 {
		t.Fatalf("tokens hold no objects after init: %v", tokens)
	}

	if !t.Run("rerun is idempotent", func(t *testing.T) {
		r := initDemo(t, dir)
		if strings.Contains(r.stdout, "== ceremony") || strings.Contains(r.stdout, "created (PIN") {
			t.Errorf("the second run created something:\n%s", r)
		}
		again := readTree(t, dir, stateFiles...)
		for name, data := range files {
			if !bytes.Equal(again[name], data) {
				t.Errorf("%s changed on the second run", name)
			}
		}
		for name := range again {
			if _, ok := files[name]; !ok {
				t.Errorf("%s appeared on the second run", name)
			}
		}
		if got := tokenSnapshot(t, dir); !reflect.DeepEqual(got, tokens) {
			t.Errorf("token objects changed on the second run:\nbefore %q\nafter  %q", tokens, got)
		}
	}) {
		return
	}

	if !t.Run("serve after init", func(t *testing.T) {
		s := startServer(t, dir)
		s.get(t, s.health, "ok\n")
		body := s.get(t, s.metrics, "")
		// Every HSM series exists from the start, even when init had
		// nothing to do.
		for _, m := range []string{`appliance_hsm_operations_total{operation="sign",outcome="ok"}`, "appliance_hsm_operation_duration_seconds", `appliance_hsm_errors_total{class="session"}`} {
			if !strings.Contains(body, m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
		s.stop(t)
	}) {
		return
	}

	t.Run("root ceremony with an existing label", func(t *testing.T) {
		cdir := filepath.Join(dir, "ceremonies")
		orig, err := os.ReadFile(filepath.Join(cdir, "01-root.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		const from, to = "certificate: ../pki/root.pem\n", "certificate: ../pki/root2.pem\n"
		if n := strings.Count(string(orig), from); n != 1 {
			t.Fatalf("01-root.yaml has %d lines %q, want 1:\n%s", n, from, orig)
		}
		cfg := filepath.Join(cdir, "09-root-again.yaml")
		if err := os.WriteFile(cfg, []byte(strings.Replace(string(orig), from, to, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		rootPEM := readTree(t, dir, "pki/root.pem")
		before := objectTexts(t, dir, "root")

		r := appliance(t, []string{"SOFTHSM2_CONF=" + filepath.Join(dir, "softhsm2.conf")}, "ceremony", cfg)
		if r.code == 0 {
			t.Errorf("ceremony with an existing key label succeeded:\n%s", r)
		}
		if !strings.Contains(r.stderr, "already exists") || !strings.Contains(r.stderr, "root-ca") {
			t.Errorf("stderr does not say the label root-ca already exists:\n%s", r)
		}
		if _, err := os.Stat(filepath.Join(dir, "pki", "root2.pem")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pki/root2.pem: %v, want it not to exist", err)
		}
		if got := objectTexts(t, dir, "root"); !reflect.DeepEqual(got, before) {
			t.Errorf("root token objects changed:\nbefore %q\nafter  %q", before, got)
		}
		if got := readTree(t, dir, "pki/root.pem"); !reflect.DeepEqual(got, rootPEM) {
			t.Error("pki/root.pem changed")
		}
	})
}

// TestDemoServeFresh serves a state directory the same process initialised,
// so the HSM metrics have observations.
func TestDemoServeFresh(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "state"))
	s.get(t, s.health, "ok\n")
	body := s.get(t, s.metrics, "")
	for _, m := range []string{"appliance_hsm_operations_total", "appliance_hsm_operation_duration_seconds"} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s:\n%s", m, body)
		}
	}
	s.stop(t)
}

// server is a running `appliance demo` (serving).
type server struct {
	cmd             *exec.Cmd
	ctx             context.Context
	lines           chan string // stdout, closed at EOF
	stdout          []string    // lines read so far
	stderr          *bytes.Buffer
	metrics, health string
	waited          bool
}

var (
	metricsLine = regexp.MustCompile(`^metrics:  (http://([0-9.]+:[0-9]+)/metrics)$`)
	healthLine  = regexp.MustCompile(`^health:   (http://([0-9.]+:[0-9]+)/healthz)$`)
)

// startServer starts the demo on dir with an ephemeral metrics port and
// reads its stdout until it has printed both URLs.
func startServer(t *testing.T, dir string) *server {
	t.Helper()
	return startProcess(t, nil, "demo", "--state", dir, "--metrics-addr", "127.0.0.1:0", "--portal-addr", "127.0.0.1:0")
}

// startProcess starts the binary with args (and env added to the
// environment) and waits for it to print its URLs.
func startProcess(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	cmd := exec.CommandContext(ctx, binPath, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.WaitDelay = 5 * time.Second
	s := &server{cmd: cmd, ctx: ctx, lines: make(chan string, 64), stderr: &bytes.Buffer{}}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel() // kills the process if the test ended early
		if !s.waited {
			s.drain()
			_ = cmd.Wait()
		}
	})
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case s.lines <- sc.Text():
			case <-ctx.Done():
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
	}()
	var maddr, haddr string
	for s.metrics == "" || s.health == "" {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.drain()
				err := cmd.Wait()
				s.waited = true
				t.Fatalf("demo exited (%v) before printing its URLs:\n%s\n--- stderr:\n%s", err, strings.Join(s.stdout, "\n"), s.stderr)
			}
			s.stdout = append(s.stdout, l)
			if m := metricsLine.FindStringSubmatch(l); m != nil {
				s.metrics, maddr = m[1], m[2]
			}
			if m := healthLine.FindStringSubmatch(l); m != nil {
				s.health, haddr = m[1], m[2]
			}
		case <-ctx.Done():
			t.Fatalf("demo printed no metrics and health URLs within %v:\n%s", cmdTimeout, strings.Join(s.stdout, "\n"))
		}
	}
	if maddr != haddr || strings.HasSuffix(maddr, ":0") || !strings.HasPrefix(maddr, "127.0.0.1:") {
		t.Fatalf("metrics on %q, health on %q: want one 127.0.0.1 address with the port chosen", maddr, haddr)
	}
	return s
}

// drain reads stdout to EOF (the process has exited or been killed).
func (s *server) drain() {
	for l := range s.lines {
		s.stdout = append(s.stdout, l)
	}
}

// get fetches u and requires 200 and, unless want is "", that body.
func (s *server) get(t *testing.T, u, want string) string {
	t.Helper()
	if _, err := url.Parse(u); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s\n%s", u, resp.Status, body)
	}
	if want != "" && string(body) != want {
		t.Errorf("GET %s: body %q, want %q", u, body, want)
	}
	return string(body)
}

// stop sends SIGTERM and requires a clean exit (status 0).
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	s.drain()
	err := s.cmd.Wait()
	s.waited = true
	if s.ctx.Err() != nil {
		t.Fatalf("demo did not exit within %v of SIGTERM", cmdTimeout)
	}
	if err != nil {
		t.Errorf("demo after SIGTERM: %v (want exit 0)\n--- stdout:\n%s\n--- stderr:\n%s", err, strings.Join(s.stdout, "\n"), s.stderr)
	}
}
