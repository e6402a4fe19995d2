package tsa_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/psre/appliance/ca/tsa"
)

// issued is one OnIssued call.
type issued struct {
	serial  *big.Int
	genTime time.Time
	digest  []byte
}

// TestTimestampInProcess is the PAdES path: a token over the hash of a
// signature value, with the TSA certificate and chain, that openssl
// verifies; OnIssued sees each serial, drawn from the token's RNG.
func TestTimestampInProcess(t *testing.T) {
	f := newFixture(t)
	var got []issued
	cfg := f.config()
	cfg.OnIssued = func(s *big.Int, g time.Time, d []byte) { got = append(got, issued{s, g, d}) }
	r, err := tsa.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	digest := sha256.Sum256([]byte("the signature value"))
	token, err := r.Timestamp(ctx, digest[:], crypto.SHA256, big.NewInt(0x5eed))
	if err != nil {
		t.Fatal(err)
	}
	if f.random.count() != 16 {
		t.Errorf("%d random bytes drawn from the token's RNG, want 16", f.random.count())
	}
	writeFile(t, filepath.Join(f.dir, "token.der"), token)
	out := openssl(t, f.dir, "ts", "-verify", "-digest", hex.EncodeToString(digest[:]), "-token_in", "-in", "token.der", "-CAfile", "root.pem", "-untrusted", "chain.pem")
	if !strings.Contains(out, "Verification: OK") {
		t.Errorf("openssl ts -verify: %s", out)
	}
	if len(got) != 1 {
		t.Fatalf("OnIssued called %d times", len(got))
	}
	s := got[0].serial
	if s.Sign() <= 0 || s.BitLen() <= 64 || s.BitLen() > 127 {
		t.Errorf("serial %x: want positive, 65..127 bits", s)
	}
	if want := f.clock.Now().Truncate(time.Second); !got[0].genTime.Equal(want) || got[0].genTime.Location() != time.UTC {
		t.Errorf("genTime %s, want %s UTC", got[0].genTime, want)
	}
	if hex.EncodeToString(got[0].digest) != hex.EncodeToString(digest[:]) {
		t.Errorf("OnIssued digest %x", got[0].digest)
	}
	text := openssl(t, f.dir, "ts", "-reply", "-token_in", "-in", "token.der", "-text")
	// openssl prints the serial's bytes: an odd number of hex digits gets a leading 0.
	m := regexp.MustCompile(`Serial number: 0x([0-9A-F]+)`).FindStringSubmatch(text)
	if shown, ok := new(big.Int).SetString(strings.Join(m[min(1, len(m)):], ""), 16); !ok || shown.Cmp(s) != 0 {
		t.Errorf("openssl shows serial %v, want %X:\n%s", m, s, text)
	}
	for _, w := range []string{"Nonce: 0x5EED", "Policy OID: " + policy.String(), "Hash Algorithm: sha256"} {
		if !strings.Contains(text, w) {
			t.Errorf("token lacks %q:\n%s", w, text)
		}
	}
	if _, err := r.Timestamp(ctx, digest[:], crypto.SHA256, nil); err != nil || len(got) != 2 || got[1].serial.Cmp(s) == 0 {
		t.Errorf("second token: %v; serials %v", err, got)
	}
	for _, tc := range []struct {
		name   string
		digest []byte
		hash   crypto.Hash
		want   error
	}{
		{"MD5", make([]byte, 16), crypto.MD5, tsa.ErrHash},
		{"SHA-1", make([]byte, 20), crypto.SHA1, tsa.ErrHash},
		{"short SHA-256", digest[:31], crypto.SHA256, tsa.ErrDigest},
		{"SHA-512 with a SHA-256 digest", digest[:], crypto.SHA512, tsa.ErrDigest},
	} {
		if _, err := r.Timestamp(ctx, tc.digest, tc.hash, nil); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if len(got) != 2 {
		t.Errorf("OnIssued called for refused digests")
	}
}

// TestKeyTypes: tokens signed with P-384 and RSA keys verify too (in-memory
// keys: the HSM path is the P-256 key of the other tests).
func TestKeyTypes(t *testing.T) {
	f := newFixture(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"p384": newKey(t, elliptic.P384()), "rsa": rsaKey} {
		t.Run(name, func(t *testing.T) {
			cfg := f.config()
			cfg.Signer, cfg.Certificate = key, f.tsaCertificate(t, key.Public(), true, x509.KeyUsageDigitalSignature)
			r, err := tsa.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte(name))
			token, err := r.Timestamp(context.Background(), digest[:], crypto.SHA256, nil)
			if err != nil {
				t.Fatal(err)
			}
			writePEM(t, filepath.Join(f.dir, name+".pem"), cfg.Certificate.Raw)
			writeFile(t, filepath.Join(f.dir, name+".der"), token)
			out := openssl(t, f.dir, "ts", "-verify", "-digest", hex.EncodeToString(digest[:]), "-token_in", "-in", name+".der", "-CAfile", "root.pem", "-untrusted", "chain.pem")
			if !strings.Contains(out, "Verification: OK") {
				t.Errorf("openssl ts -verify: %s", out)
			}
		})
	}
}

// TestNewRefuses: configurations New must refuse.
func TestNewRefuses(t *testing.T) {
	f := newFixture(t)
	other := newKey(t, elliptic.P256())
	tests := []struct {
		name string
		edit func(*tsa.Config)
	}{
		{"no signer", func(c *tsa.Config) { c.Signer = nil }},
		{"no certificate", func(c *tsa.Config) { c.Certificate = nil }},
		{"certificate for another key", func(c *tsa.Config) { c.Signer = other }},
		{"EKU not critical", func(c *tsa.Config) {
			c.Certificate = f.tsaCertificate(t, f.key.Public(), false, x509.KeyUsageDigitalSignature)
		}},
		{"EKU beside timeStamping", func(c *tsa.Config) {
			eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}, {1, 3, 6, 1, 5, 5, 7, 3, 3}})
			if err != nil {
				t.Fatal(err)
			}
			tmpl := *f.tsaCert
			tmpl.ExtraExtensions = []pkix.Extension{{Id: oidEKU, Critical: true, Value: eku}}
			c.Certificate = mustCert(t, &tmpl, f.issuing, f.key.Public(), f.issuingKey)
		}},
		{"keyUsage without signatures", func(c *tsa.Config) {
			c.Certificate = f.tsaCertificate(t, f.key.Public(), true, x509.KeyUsageKeyEncipherment)
		}},
		{"no policy", func(c *tsa.Config) { c.Policy = nil }},
		{"one-arc policy", func(c *tsa.Config) { c.Policy = []int{2} }},
		{"accuracy under a second", func(c *tsa.Config) { c.Accuracy = 500 * time.Millisecond }},
		{"nil in the chain", func(c *tsa.Config) { c.Chain = append(c.Chain, nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			tc.edit(&cfg)
			if _, err := tsa.New(cfg); !errors.Is(err, tsa.ErrConfig) {
				t.Errorf("New: %v, want ErrConfig", err)
			}
		})
	}
	reg := prometheus.NewRegistry()
	f.responder(t, reg)
	cfg := f.config()
	cfg.Registerer = reg
	if _, err := tsa.New(cfg); err == nil {
		t.Error("a second responder registered the same metrics")
	}
}

// failingSigner has the TSA key's public half and fails or forges.
type failingSigner struct {
	crypto.Signer
	forge bool
}

func (s failingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.forge {
		other := make([]byte, len(digest))
		return s.Signer.Sign(r, other, opts)
	}
	return nil, errors.New("CKR_DEVICE_ERROR")
}

// TestSystemFailure: the HSM failing, a signature that does not verify,
// and a certificate not valid at genTime give systemFailure.
func TestSystemFailure(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		edit func(*tsa.Config)
	}{
		{"HSM error", func(c *tsa.Config) { c.Signer = failingSigner{Signer: f.key} }},
		{"bad signature", func(c *tsa.Config) { c.Signer = failingSigner{Signer: f.key, forge: true} }},
		{"certificate expired", func(c *tsa.Config) { c.Now = func() time.Time { return f.tsaCert.NotAfter.Add(time.Second) } }},
		{"certificate not yet valid", func(c *tsa.Config) { c.Now = func() time.Time { return f.tsaCert.NotBefore.Add(-time.Second) } }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			reg := prometheus.NewRegistry()
			cfg.Registerer = reg
			tc.edit(&cfg)
			r, err := tsa.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			resp := parseResp(t, r.Respond(context.Background(), request(t, nil)))
			if resp.Status.Status != 2 || resp.Status.FailInfo.At(25) != 1 || len(resp.Token.FullBytes) != 0 {
				t.Errorf("status %d failInfo %x: want rejection, systemFailure", resp.Status.Status, resp.Status.FailInfo.Bytes)
			}
			if _, err := r.Timestamp(context.Background(), make([]byte, 32), crypto.SHA256, nil); err == nil {
				t.Error("Timestamp succeeded")
			}
			if got := counter(t, reg, "system_failure"); got != 2 {
				t.Errorf("system_failure counter %v, want 2", got)
			}
		})
	}
}
