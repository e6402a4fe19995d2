package ocsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/psre/appliance/ca/ocsp"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	xocsp "golang.org/x/crypto/ocsp"
)

// fixture is a small PKI: an in-memory root and issuing CA, a foreign CA,
// and a delegated OCSP responder of the issuing CA whose key is on SoftHSM.
type fixture struct {
	root, issuing, foreign *x509.Certificate
	issuingKey, foreignKey *ecdsa.PrivateKey
	responderCert          *x509.Certificate
	key                    *countingSigner // the HSM key, counting signatures
	status                 *statusMap
	clock                  *clock
	dir                    string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	hsmKey, _, err := tok.GenerateKeyPair(context.Background(), "ocsp-issuing", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	f := &fixture{key: &countingSigner{Signer: hsmKey}, status: &statusMap{m: map[string]ocsp.CertStatus{}}, clock: &clock{t: now}, dir: t.TempDir()}
	rootKey := newKey(t, elliptic.P384())
	f.issuingKey, f.foreignKey = newKey(t, elliptic.P384()), newKey(t, elliptic.P256())
	rootTmpl := caTemplate(1, "Test Root", now)
	f.root = mustCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	f.issuing = mustCert(t, caTemplate(2, "Test Issuing CA", now), f.root, f.issuingKey.Public(), rootKey)
	foreignTmpl := caTemplate(3, "Somebody Else's CA", now)
	f.foreign = mustCert(t, foreignTmpl, foreignTmpl, f.foreignKey.Public(), f.foreignKey)
	f.responderCert = mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(4), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "Test OCSP Responder"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, 90), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}, Value: []byte{5, 0}}},
	}, f.issuing, hsmKey.Public(), f.issuingKey)
	writePEM(t, filepath.Join(f.dir, "root.pem"), f.root.Raw)
	writePEM(t, filepath.Join(f.dir, "issuing.pem"), f.issuing.Raw)
	return f
}

func newKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func caTemplate(serial int64, cn string, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"Test PSrE"}, CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

// leaf issues a subscriber certificate with serial under the issuing CA
// (or the foreign one) and records its status.
func (f *fixture) leaf(t testing.TB, serial int64, foreign bool) *x509.Certificate {
	t.Helper()
	parent, key := f.issuing, crypto.Signer(f.issuingKey)
	if foreign {
		parent, key = f.foreign, f.foreignKey
	}
	now := f.clock.Now()
	return mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "Budi Santoso"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}, parent, newKey(t, elliptic.P256()).Public(), key)
}

func (f *fixture) signer() ocsp.Signer {
	return ocsp.Signer{CA: "issuing", Issuer: f.issuing, Responder: f.responderCert, Key: f.key}
}

// responder builds a Responder over the fixture with cache (may be nil).
func (f *fixture) responder(t testing.TB, cache ocsp.Cache, reg prometheus.Registerer) *ocsp.Responder {
	t.Helper()
	r, err := ocsp.New(ocsp.Config{
		Signers: []ocsp.Signer{f.signer()}, Status: f.status.lookup, Cache: cache,
		Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// request is the DER OCSP request for cert (SHA-1 CertID unless h says).
func (f *fixture) request(t testing.TB, cert *x509.Certificate, h crypto.Hash) []byte {
	t.Helper()
	issuer := f.issuing
	if string(cert.RawIssuer) == string(f.foreign.RawSubject) {
		issuer = f.foreign
	}
	der, err := xocsp.CreateRequest(cert, issuer, &xocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writePEM(t testing.TB, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// statusMap is the test's CA database.
type statusMap struct {
	mu   sync.Mutex
	m    map[string]ocsp.CertStatus
	fail bool
}

func (s *statusMap) set(serial int64, st ocsp.CertStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[big.NewInt(serial).Text(16)] = st
}

func (s *statusMap) setFail(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

func (s *statusMap) lookup(_ context.Context, ca string, serial *big.Int) (ocsp.CertStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return ocsp.CertStatus{}, errors.New("database unavailable")
	}
	if st, ok := s.m[serial.Text(16)]; ok && ca == "issuing" {
		return st, nil
	}
	return ocsp.CertStatus{Status: xocsp.Unknown}, nil
}

// countingSigner counts the HSM signatures.
type countingSigner struct {
	crypto.Signer
	n atomic.Int64
}

func (c *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.Signer.Sign(r, digest, opts)
}

// clock is a Now func the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// responderKeyHash is the byKey ResponderID: SHA-1 of the responder's key.
func responderKeyHash(t testing.TB, f *fixture) []byte {
	t.Helper()
	var spki struct {
		Algorithm asn1.RawValue
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(f.responderCert.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(spki.Key.RightAlign())
	return sum[:]
}
