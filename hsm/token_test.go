package hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

func TestGenerateKeyPairsAreProtectedAndSign(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	ctx := context.Background()
	tests := []struct {
		alg  hsm.Algorithm
		hash crypto.Hash
	}{
		{hsm.ECDSAP256, crypto.SHA256},
		{hsm.ECDSAP384, crypto.SHA384},
		{hsm.RSA3072, crypto.SHA256},
	}
	for _, tc := range tests {
		t.Run(string(tc.alg), func(t *testing.T) {
			label := "key-" + string(tc.alg)
			s, uri, err := tok.GenerateKeyPair(ctx, label, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			if len(uri.ID) != 16 || uri.Object != label || uri.Token != "ca" {
				t.Fatalf("unexpected URI %s", uri)
			}
			attrs, err := tok.Attributes(ctx, uri)
			if err != nil {
				t.Fatal(err)
			}
			if !attrs.Protected() {
				t.Fatalf("key attributes %+v: want token, private, sensitive, always sensitive, not extractable, never extractable", attrs)
			}
			// Found again by URI string, the key signs and Go verifies.
			parsed, err := hsm.ParseURI(uri.String())
			if err != nil {
				t.Fatal(err)
			}
			again, err := tok.Signer(ctx, parsed)
			if err != nil {
				t.Fatal(err)
			}
			h := tc.hash.New()
			h.Write([]byte("hello"))
			digest := h.Sum(nil)
			sig, err := again.Sign(nil, digest, tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			switch pub := s.Public().(type) {
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest, sig) {
					t.Fatal("ECDSA signature does not verify")
				}
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(pub, tc.hash, digest, sig); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("public key %T", pub)
			}
		})
	}
}

func TestDuplicateLabelRefusedAndNothingCreated(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	ctx := context.Background()
	first, uri, err := tok.GenerateKeyPair(ctx, "issuing-ca", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA3072} {
		if _, _, err := tok.GenerateKeyPair(ctx, "issuing-ca", alg); !errors.Is(err, hsm.ErrLabelExists) {
			t.Fatalf("%s with an existing label: got %v, want ErrLabelExists", alg, err)
		}
	}
	if _, err := tok.GenerateSecretKey(ctx, "issuing-ca"); !errors.Is(err, hsm.ErrLabelExists) {
		t.Fatalf("secret key with an existing key-pair label: got %v", err)
	}
	// Exactly one key still answers to the label, and it is the first.
	s, err := tok.Signer(ctx, hsm.URI{Token: "ca", Object: "issuing-ca"})
	if err != nil {
		t.Fatalf("label lookup after refused duplicates: %v", err)
	}
	if !s.Public().(*ecdsa.PublicKey).Equal(first.Public()) || s.URI().Object != uri.Object {
		t.Fatal("the key under the label changed")
	}
}

func TestOpenErrorsSayWhatToDo(t *testing.T) {
	env := hsmtest.New(t)
	env.InitToken(t, "ca")
	ctx := context.Background()
	t.Run("missing module", func(t *testing.T) {
		_, err := hsm.OpenModule("/nonexistent/libpkcs11.so", hsm.ModuleOptions{})
		if !errors.Is(err, hsm.ErrModuleNotLoadable) || !strings.Contains(err.Error(), "/nonexistent/libpkcs11.so") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("not a PKCS#11 module", func(t *testing.T) {
		_, err := hsm.OpenModule("/etc/hostname", hsm.ModuleOptions{})
		if !errors.Is(err, hsm.ErrModuleNotLoadable) || !strings.Contains(err.Error(), "/etc/hostname") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unknown token lists the present ones", func(t *testing.T) {
		_, err := env.Module.OpenToken(ctx, hsm.URI{Token: "nope"}, "1234", hsm.TokenOptions{})
		var tnf *hsm.TokenNotFoundError
		if !errors.As(err, &tnf) || !errors.Is(err, hsm.ErrTokenNotFound) {
			t.Fatalf("got %v", err)
		}
		if !strings.Contains(err.Error(), `label="ca"`) {
			t.Fatalf("error does not list token ca: %v", err)
		}
	})
	t.Run("missing PIN", func(t *testing.T) {
		_, err := env.Module.OpenToken(ctx, hsm.URI{Token: "ca"}, "", hsm.TokenOptions{})
		if !errors.Is(err, hsm.ErrPINMissing) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong PIN", func(t *testing.T) {
		_, err := env.Module.OpenToken(ctx, hsm.URI{Token: "ca"}, "wrong-pin", hsm.TokenOptions{})
		if !errors.Is(err, hsm.ErrPINIncorrect) {
			t.Fatalf("got %v", err)
		}
		if hsm.Classify(err) != hsm.ClassPIN {
			t.Fatalf("class %q", hsm.Classify(err))
		}
	})
}

func TestUnknownKeyAndWrongType(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	ctx := context.Background()
	if _, err := tok.Signer(ctx, hsm.URI{Token: "ca", Object: "absent"}); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("got %v", err)
	}
	if _, err := tok.Signer(ctx, hsm.URI{Token: "other", Object: "absent"}); err == nil || !strings.Contains(err.Error(), "not on token") {
		t.Fatalf("got %v", err)
	}
	kek, err := tok.GenerateSecretKey(ctx, "kek")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Signer(ctx, hsm.URI{Token: "ca", Object: "kek"}); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("a secret key as signer: got %v", err)
	}
	if _, err := tok.Signer(ctx, kek); err == nil {
		t.Fatal("type=secret-key accepted as a signer")
	}
}

func TestKEKSealOpen(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	ctx := context.Background()
	uri, err := tok.GenerateSecretKey(ctx, "kek")
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := tok.Attributes(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	if !attrs.Protected() {
		t.Fatalf("KEK attributes %+v", attrs)
	}
	kek, err := tok.KEK(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := kek.Seal([]byte("NIK 3171234567890123"), []byte("applicant/42"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "3171234567890123") {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := kek.Open(sealed, []byte("applicant/42"))
	if err != nil || string(got) != "NIK 3171234567890123" {
		t.Fatalf("open: %q, %v", got, err)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	cases := map[string]struct {
		data, aad []byte
	}{
		"tampered":  {tampered, []byte("applicant/42")},
		"other aad": {sealed, []byte("applicant/43")},
		"truncated": {sealed[:10], []byte("applicant/42")},
	}
	for name, c := range cases {
		if _, err := kek.Open(c.data, c.aad); !errors.Is(err, hsm.ErrDecrypt) {
			t.Errorf("%s: got %v, want ErrDecrypt", name, err)
		}
	}
}

func TestRandomReader(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	a, b := make([]byte, 32), make([]byte, 32)
	if _, err := io.ReadFull(tok.Random(), a); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(tok.Random(), b); err != nil {
		t.Fatal(err)
	}
	if string(a) == string(b) || string(a) == string(make([]byte, 32)) {
		t.Fatal("token RNG returned repeated or zero output")
	}
}

// TestSessionRecovery invalidates the sessions under the running Token
// through a second handle on the same library, as a device reset or a
// re-initialisation would, and checks that the next operations succeed.
func TestSessionRecovery(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, p *pkcs11.Ctx, slot uint)
	}{
		{"close all sessions", func(t *testing.T, p *pkcs11.Ctx, slot uint) {
			if err := p.CloseAllSessions(slot); err != nil {
				t.Fatal(err)
			}
		}},
		{"finalise and re-initialise the library", func(t *testing.T, p *pkcs11.Ctx, slot uint) {
			if err := p.Finalize(); err != nil {
				t.Fatal(err)
			}
			if err := p.Initialize(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod, tok, reg, modPath, _ := metricToken(t)
			s, _, err := tok.GenerateKeyPair(context.Background(), "k", hsm.ECDSAP256)
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("x"))
			if _, err := s.Sign(nil, digest[:], crypto.SHA256); err != nil {
				t.Fatal(err)
			}

			raw := pkcs11.New(modPath)
			defer raw.Destroy()
			_ = raw.Initialize() // already initialised by the Token: CKR_CRYPTOKI_ALREADY_INITIALIZED
			tokens, err := mod.Tokens(context.Background())
			if err != nil || len(tokens) != 1 {
				t.Fatalf("tokens %v, %v", tokens, err)
			}
			tc.break_(t, raw, tokens[0].Slot)

			for i := 0; i < 3; i++ {
				sig, err := s.Sign(nil, digest[:], crypto.SHA256)
				if err != nil {
					t.Fatalf("signature %d after the sessions were invalidated: %v", i, err)
				}
				if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), digest[:], sig) {
					t.Fatal("signature after recovery does not verify")
				}
			}
			if got := counterValue(t, reg, "appliance_hsm_reconnects_total"); got < 1 {
				t.Fatalf("appliance_hsm_reconnects_total = %v, want >= 1", got)
			}
			if got := counterValue(t, reg, "appliance_hsm_errors_total"); got < 1 {
				t.Fatalf("appliance_hsm_errors_total = %v, want >= 1", got)
			}
		})
	}
}

// counterValue sums every series of the counter family name.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestRecoveryWhenTokenReturns takes the token away under the running
// process (its files moved, the library re-initialised), checks that
// signing fails with an error while it is gone, and that the first
// signature after it is back succeeds: the Token never stays broken.
func TestRecoveryWhenTokenReturns(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	ctx := context.Background()
	s, _, err := tok.GenerateKeyPair(ctx, "k", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	modPath, _ := softhsmtestdata.ModulePath()
	raw := pkcs11.New(modPath)
	defer raw.Destroy()
	_ = raw.Initialize() // already initialised by the Token
	tokenDirs, err := filepath.Glob(filepath.Join(env.Dir, "tokens", "*"))
	if err != nil || len(tokenDirs) != 1 {
		t.Fatalf("token directories %v, %v", tokenDirs, err)
	}
	away := filepath.Join(env.Dir, "away")
	if err := os.Rename(tokenDirs[0], away); err != nil {
		t.Fatal(err)
	}
	// Re-initialise the library under the Token: its sessions die and the
	// token is no longer there.
	if err := raw.Finalize(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Initialize(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := s.Sign(nil, digest[:], crypto.SHA256); err == nil {
			t.Fatalf("attempt %d: signed while the token was gone", i)
		}
	}
	if err := os.Rename(away, tokenDirs[0]); err != nil {
		t.Fatal(err)
	}
	// The failed reconnects have finalised the library; whoever
	// initialised it here must not hold it either (as with a device that
	// comes back), so the Token's next reconnect loads it afresh.
	if err := raw.Finalize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)) {
		t.Fatal(err)
	}
	sig, err := s.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("first signature after the token came back: %v", err)
	}
	if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("signature does not verify")
	}
}

// TestRejectedPINIsNotRetried changes the user PIN under a running Token
// and drops its sessions: the reconnect's login fails once, and later
// operations fail fast without trying the PIN again (each try would count
// towards locking it on a real HSM).
func TestRejectedPINIsNotRetried(t *testing.T) {
	mod, tok, reg, modPath, pin := metricToken(t)
	s, _, err := tok.GenerateKeyPair(context.Background(), "k", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	raw := pkcs11.New(modPath)
	defer raw.Destroy()
	_ = raw.Initialize() // already initialised by the Token
	tokens, err := mod.Tokens(context.Background())
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens %v, %v", tokens, err)
	}
	sess, err := raw.OpenSession(tokens[0].Slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.SetPIN(sess, pin, "a-new-pin-1234"); err != nil {
		t.Fatal(err)
	}
	if err := raw.CloseAllSessions(tokens[0].Slot); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	for i := 0; i < 5; i++ {
		if _, err := s.Sign(nil, digest[:], crypto.SHA256); !errors.Is(err, hsm.ErrPINIncorrect) {
			t.Fatalf("signature %d with the PIN changed: %v, want ErrPINIncorrect", i, err)
		}
	}
	if n := loginFailures(t, reg); n != 1 {
		t.Fatalf("%v failed logins, want exactly 1", n)
	}
}

func loginFailures(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "appliance_hsm_operations_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["operation"] == "login" && labels["outcome"] == "error" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// metricToken opens a fresh token "ca" through a module of its own whose
// metrics are gathered in reg, closing both when the test ends.
func metricToken(t *testing.T) (mod *hsm.Module, tok *hsm.Token, reg *prometheus.Registry, modPath, pin string) {
	t.Helper()
	env := hsmtest.New(t)
	reg = prometheus.NewRegistry()
	metrics, err := hsm.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	modPath, _ = softhsmtestdata.ModulePath()
	mod, err = hsm.OpenModule(modPath, hsm.ModuleOptions{Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mod.Close)
	pinFile := env.InitToken(t, "ca")
	pin, _ = hsm.ReadPIN(hsm.PINSource("file:"+pinFile), "ca", nil)
	tok, err = mod.OpenToken(context.Background(), hsm.URI{Token: "ca"}, pin, hsm.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close() })
	return mod, tok, reg, modPath, pin
}
