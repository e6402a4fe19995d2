package hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

// p11toolPINEnv carries the PIN to pkcs11-tool: never argv.
const p11toolPINEnv = "HSM_TEST_PIN"

// tokenLabels lists the labels of token's objects with OpenSC's
// pkcs11-tool, logged in, as "Kind label" lines (e.g. "Private Key Object
// subscriber-1").
func tokenLabels(t *testing.T, env *hsmtest.Env, token string) []string {
	t.Helper()
	pin, err := os.ReadFile(filepath.Join(env.Dir, "pins", token))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := softhsmtestdata.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pkcs11-tool", "--module", mod, "--token-label", token,
		"--login", "--pin", "env:"+p11toolPINEnv, "--list-objects")
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+env.ConfPath, p11toolPINEnv+"="+strings.TrimSpace(string(pin)))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pkcs11-tool --list-objects on %s: %v\n%s", token, err, stderr.String())
	}
	var out []string
	kind := ""
	for _, line := range strings.Split(stdout.String(), "\n") {
		switch {
		case strings.Contains(line, " Object;"):
			kind, _, _ = strings.Cut(line, ";")
		case strings.HasPrefix(strings.TrimSpace(line), "label:"):
			out = append(out, kind+" "+strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "label:")))
		}
	}
	return out
}

// labelled returns the entries of labels for label.
func labelled(labels []string, label string) []string {
	var out []string
	for _, l := range labels {
		if strings.HasSuffix(l, " "+label) {
			out = append(out, l)
		}
	}
	return out
}

func TestDestroyKeyPair(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "users")
	ctx := context.Background()
	digest := sha256.Sum256([]byte("document"))

	keep, keepURI, err := tok.GenerateKeyPair(ctx, "subscriber-keep", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.GenerateSecretKey(ctx, "a-secret-key"); err != nil {
		t.Fatal(err)
	}
	// Two pairs under one label, as another tool could leave them:
	// GenerateKeyPair itself refuses a second.
	rawPair(t, env, "users", "twice", []byte{1})
	rawPair(t, env, "users", "twice", []byte{2})

	tests := []struct {
		name  string
		label string
		byID  bool   // name the key by id= only
		gen   bool   // generate the key first
		want  error  // from DestroyKeyPair
		left  string // a label that must still be listed afterwards
	}{
		{name: "by label", label: "subscriber-1", gen: true},
		{name: "by id", label: "subscriber-2", gen: true, byID: true},
		{name: "unknown label", label: "subscriber-none", want: hsm.ErrKeyNotFound},
		{name: "secret key is not a pair", label: "a-secret-key", want: hsm.ErrKeyNotFound, left: "a-secret-key"},
		{name: "two pairs under one label", label: "twice", want: hsm.ErrKeyAmbiguous, left: "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := hsm.URI{Token: "users", Object: tc.label}
			if tc.gen {
				s, uri, err := tok.GenerateKeyPair(ctx, tc.label, hsm.ECDSAP256)
				if err != nil {
					t.Fatal(err)
				}
				sig, err := s.Sign(nil, digest[:], crypto.SHA256)
				if err != nil || !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), digest[:], sig) {
					t.Fatalf("signature before destroying: %v", err)
				}
				if len(labelled(tokenLabels(t, env, "users"), tc.label)) != 2 {
					t.Fatalf("pkcs11-tool does not list the two objects of %s", tc.label)
				}
				if tc.byID {
					u = hsm.URI{Token: "users", ID: uri.ID}
				}
			}
			err := tok.DestroyKeyPair(ctx, u)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("DestroyKeyPair(%s) = %v, want %v", u, err, tc.want)
				}
			} else if err != nil {
				t.Fatalf("DestroyKeyPair(%s): %v", u, err)
			}
			labels := tokenLabels(t, env, "users")
			if tc.left != "" {
				if len(labelled(labels, tc.left)) == 0 {
					t.Fatalf("a refused destroy removed %s: pkcs11-tool lists %v", tc.left, labels)
				}
				return
			}
			if got := labelled(labels, tc.label); len(got) != 0 {
				t.Fatalf("pkcs11-tool still lists %v", got)
			}
			if _, err := tok.Signer(ctx, hsm.URI{Token: "users", Object: tc.label}); !errors.Is(err, hsm.ErrKeyNotFound) {
				t.Fatalf("Signer after destroying: %v, want ErrKeyNotFound", err)
			}
			if tc.gen {
				if err := tok.DestroyKeyPair(ctx, u); !errors.Is(err, hsm.ErrKeyNotFound) {
					t.Fatalf("destroying again: %v, want ErrKeyNotFound", err)
				}
			}
		})
	}
	// The other subscriber's key is untouched and still signs.
	s, err := tok.Signer(ctx, keepURI)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(nil, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(keep.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatalf("the remaining key: %v", err)
	}
}

func TestDestroyKeyPairRefusesOtherTokensAndTypes(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "users")
	ctx := context.Background()
	for _, u := range []hsm.URI{
		{Token: "ca", Object: "k"},
		{Token: "users"},
		{Token: "users", Object: "k", Type: "secret-key"},
	} {
		if err := tok.DestroyKeyPair(ctx, u); err == nil || errors.Is(err, hsm.ErrKeyNotFound) {
			t.Errorf("DestroyKeyPair(%s) = %v, want a refusal", u, err)
		}
	}
}

// rawPair generates a P-256 key pair labelled label with CKA_ID id through
// a PKCS#11 session of its own, bypassing the package's label check.
func rawPair(t testing.TB, env *hsmtest.Env, token, label string, id []byte) {
	t.Helper()
	p, s := rawSession(t, env, token)
	defer p.CloseSession(s)
	pub := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	priv := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}
	if _, _, err := p.GenerateKeyPair(s, mech, pub, priv); err != nil {
		t.Fatal(err)
	}
}

// rawSession opens a logged-in read-write session on token through a
// library handle of its own (the library is already initialised by the
// test's Token, so the login is shared with it).
func rawSession(t testing.TB, env *hsmtest.Env, token string) (*pkcs11.Ctx, pkcs11.SessionHandle) {
	t.Helper()
	mod, err := softhsmtestdata.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	p := pkcs11.New(mod)
	t.Cleanup(p.Destroy)
	_ = p.Initialize() // CKR_CRYPTOKI_ALREADY_INITIALIZED: the Token holds it
	tokens, err := env.Module.Tokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slot := ^uint(0)
	for _, ti := range tokens {
		if ti.Label == token {
			slot = ti.Slot
		}
	}
	if slot == ^uint(0) {
		t.Fatalf("no token %s", token)
	}
	s, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	pin, err := os.ReadFile(filepath.Join(env.Dir, "pins", token))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Login(s, pkcs11.CKU_USER, strings.TrimSpace(string(pin))); err != nil &&
		!errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		t.Fatal(err)
	}
	return p, s
}
