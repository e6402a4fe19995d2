// Package hsmtest gives each test its own SoftHSM2 token directory and
// tokens. It never skips: SoftHSM2 is a test dependency that `make test`
// installs, so its absence fails the test with instructions.
package hsmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/psre/appliance/hsm"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

// Env is one test's SoftHSM: a token directory, a softhsm2.conf pointing at
// it (exported through SOFTHSM2_CONF for the test's duration) and the
// loaded module.
type Env struct {
	Dir      string // holds softhsm2.conf, tokens/ and pins/
	ConfPath string
	Module   *hsm.Module
}

// New prepares a fresh SoftHSM for t. It uses t.Setenv, so tests that call
// it cannot run in parallel with each other (SoftHSM reads its
// configuration from the environment when the library initialises).
func New(t testing.TB) *Env {
	t.Helper()
	path, err := softhsmtestdata.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): SoftHSM's configuration parser cannot read a token
	// directory whose path holds '=', which test names such as
	// "workers=2" put there.
	dir, err := os.MkdirTemp("", "softhsm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	env := &Env{Dir: dir, ConfPath: filepath.Join(dir, "softhsm2.conf")}
	WriteConfig(t, dir)
	t.Setenv("SOFTHSM2_CONF", env.ConfPath)
	mod, err := hsm.OpenModule(path, hsm.ModuleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mod.Close)
	env.Module = mod
	return env
}

// WriteConfig lays out dir/tokens and dir/softhsm2.conf.
func WriteConfig(t testing.TB, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Join(dir, "tokens"), filepath.Join(dir, "pins")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf, err := softhsmtestdata.RenderConfig(filepath.Join(dir, "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "softhsm2.conf"), conf, 0o600); err != nil {
		t.Fatal(err)
	}
}

// RandomPIN returns a fresh 16-hex-digit PIN.
func RandomPIN(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// InitToken initialises a token labelled label with random PINs and writes
// the user PIN to Dir/pins/label (mode 0600). It returns the PIN file path.
func (e *Env) InitToken(t testing.TB, label string) (pinFile string) {
	t.Helper()
	pin := RandomPIN(t)
	if _, err := e.Module.InitToken(context.Background(), label, RandomPIN(t), pin); err != nil {
		t.Fatal(err)
	}
	pinFile = filepath.Join(e.Dir, "pins", label)
	if err := os.WriteFile(pinFile, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return pinFile
}

// Token initialises a token labelled label and opens it, closing it when
// the test ends.
func (e *Env) Token(t testing.TB, label string) *hsm.Token {
	t.Helper()
	pinFile := e.InitToken(t, label)
	pin, err := hsm.ReadPIN(hsm.PINSource("file:"+pinFile), label, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.Module.OpenToken(context.Background(), hsm.URI{Token: label}, pin, hsm.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok
}
