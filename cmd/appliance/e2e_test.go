package main_test

// End-to-end harness: TestMain builds the real binary once; the helpers run
// it, run pkcs11-tool against its SoftHSM tokens, and share one initialised
// demo state directory between the read-only tests.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

// cmdTimeout bounds every command a test runs.
const cmdTimeout = 2 * time.Minute

var (
	workDir string // temporary; holds the binary and the shared demo state
	binPath string
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	var err error
	workDir, err = os.MkdirTemp("", "appliance-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(workDir)
	binPath = filepath.Join(workDir, "appliance")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goTool, "build", "-o", binPath, "./")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/appliance: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// result is the outcome of one run of a command.
type result struct {
	stdout, stderr string
	code           int // exit code; -1 if the process did not exit normally
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCmd runs name with args and extra environment variables (which
// override the inherited ones), bounded by cmdTimeout.
func runCmd(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	return runCmdIn(t, "", env, name, args...)
}

// runCmdIn is runCmd in the working directory dir ("": the test's).
func runCmdIn(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	default:
		t.Fatalf("run %s %q: %v", name, args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish within %v:\n%s", name, args, cmdTimeout, r)
	}
	return r
}

// appliance runs the binary under test.
func appliance(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runCmd(t, env, binPath, args...)
}

// runIn runs the binary under test in the working directory dir.
func runIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runCmdIn(t, dir, nil, binPath, args...)
}

// initDemo runs `demo --state dir --init-only` and requires exit 0.
func initDemo(t *testing.T, dir string) result {
	t.Helper()
	r := appliance(t, nil, "demo", "--state", dir, "--init-only")
	if r.code != 0 {
		t.Fatalf("demo --init-only: %s", r)
	}
	return r
}

var shared struct {
	once sync.Once
	dir  string
	res  result
	err  error
}

// sharedDemo is a demo state directory initialised once for the tests that
// only read it. Tests that change state use their own directory.
func sharedDemo(t *testing.T) string {
	t.Helper()
	shared.once.Do(func() {
		// A directory the binary creates itself, so its mode is the binary's.
		shared.dir = filepath.Join(workDir, "shared-state")
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, binPath, "demo", "--state", shared.dir, "--init-only")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = 5 * time.Second
		shared.err = cmd.Run()
		shared.res = result{stdout: stdout.String(), stderr: stderr.String()}
		if shared.err == nil && !strings.Contains(shared.res.stdout, "demo state ready in "+shared.dir) {
			shared.err = errors.New(`no "demo state ready" line`)
		}
	})
	if shared.err != nil {
		t.Fatalf("shared demo --init-only: %v\n%s", shared.err, shared.res)
	}
	return shared.dir
}

func modulePath(t *testing.T) string {
	t.Helper()
	m, err := softhsmtestdata.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pinEnv is the variable that carries a PIN to pkcs11-tool: never argv.
const pinEnv = "APPLIANCE_E2E_PIN"

// p11Object is one object of `pkcs11-tool --list-objects`.
type p11Object struct {
	Header string // e.g. "Private Key Object; EC"
	Label  string
	ID     string
	Access string
	Text   string // the whole block
}

// listObjects lists the objects of a demo token with pkcs11-tool, logged in
// with the PIN from dir/pins/TOKEN; typ is a --type value or "" for all.
func listObjects(t *testing.T, dir, token, typ string) []p11Object {
	t.Helper()
	pin, err := os.ReadFile(filepath.Join(dir, "pins", token))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--module", modulePath(t), "--token-label", token,
		"--login", "--pin", "env:" + pinEnv, "--list-objects"}
	if typ != "" {
		args = append(args, "--type", typ)
	}
	env := []string{"SOFTHSM2_CONF=" + filepath.Join(dir, "softhsm2.conf"),
		pinEnv + "=" + strings.TrimSpace(string(pin))}
	r := runCmd(t, env, "pkcs11-tool", args...)
	if r.code != 0 {
		t.Fatalf("pkcs11-tool %s: %s", strings.Join(args, " "), r)
	}
	return parseObjects(r.stdout)
}

func parseObjects(out string) []p11Object {
	var objs []p11Object
	var cur *p11Object
	var text []string
	flush := func() {
		if cur != nil {
			cur.Text = strings.Join(text, "\n")
			objs = append(objs, *cur)
		}
		cur, text = nil, nil
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			flush()
			if strings.Contains(line, " Object") {
				cur = &p11Object{Header: line}
				text = []string{line}
			}
			continue
		}
		if cur == nil {
			continue
		}
		text = append(text, line)
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch val = strings.TrimSpace(val); key {
		case "label":
			cur.Label = val
		case "ID":
			cur.ID = val
		case "Access":
			cur.Access = val
		}
	}
	flush()
	return objs
}

// objectTexts is a token's full object listing in a stable order.
func objectTexts(t *testing.T, dir, token string) []string {
	t.Helper()
	var out []string
	for _, o := range listObjects(t, dir, token, "") {
		out = append(out, o.Text)
	}
	sort.Strings(out)
	return out
}

func labels(objs []p11Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Label)
	}
	sort.Strings(out)
	return out
}

// readTree reads every regular file under dir/rel (a file or a directory),
// keyed by its path relative to dir.
func readTree(t *testing.T, dir string, rels ...string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, rel := range rels {
		err := filepath.WalkDir(filepath.Join(dir, rel), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			r, err := filepath.Rel(dir, p)
			files[r] = data
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}
