package tsa_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/psre/appliance/ca/tsa"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
)

// policy is the test TSA policy (a placeholder under Indonesia's arc).
var policy = asn1.ObjectIdentifier{2, 16, 360, 1, 99999, 2, 1}

// fixture is a small PKI: an in-memory root and issuing CA and a TSA
// certificate of the issuing CA whose key is on SoftHSM. dir holds
// root.pem, chain.pem (the issuing CA) and tsa.pem.
type fixture struct {
	root, issuing, tsaCert *x509.Certificate
	issuingKey             *ecdsa.PrivateKey
	key                    *hsm.Signer
	random                 *countingReader // the token's RNG
	clock                  *clock
	dir                    string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	tok := hsmtest.New(t).Token(t, "ca")
	key, _, err := tok.GenerateKeyPair(context.Background(), "tsa", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second).Add(750 * time.Millisecond) // genTime drops the fraction
	f := &fixture{key: key, random: &countingReader{r: tok.Random()}, clock: &clock{t: now}, dir: t.TempDir()}
	rootKey := newKey(t, elliptic.P384())
	f.issuingKey = newKey(t, elliptic.P384())
	rootTmpl := caTemplate(1, "Uji Root CA", now)
	f.root = mustCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	f.issuing = mustCert(t, caTemplate(2, "Uji Issuing CA", now), f.root, f.issuingKey.Public(), rootKey)
	f.tsaCert = f.tsaCertificate(t, key.Public(), true, x509.KeyUsageDigitalSignature)
	writePEM(t, filepath.Join(f.dir, "root.pem"), f.root.Raw)
	writePEM(t, filepath.Join(f.dir, "chain.pem"), f.issuing.Raw)
	writePEM(t, filepath.Join(f.dir, "tsa.pem"), f.tsaCert.Raw)
	return f
}

var oidEKU = asn1.ObjectIdentifier{2, 5, 29, 37}

// tsaCertificate issues a TSA certificate for pub; critical says whether
// its id-kp-timeStamping EKU is critical.
func (f *fixture) tsaCertificate(t testing.TB, pub crypto.PublicKey, critical bool, ku x509.KeyUsage) *x509.Certificate {
	t.Helper()
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	return mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"PT Uji"}, CommonName: "Uji TSA G1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0), BasicConstraintsValid: true, KeyUsage: ku,
		ExtraExtensions: []pkix.Extension{{Id: oidEKU, Critical: critical, Value: eku}},
	}, f.issuing, pub, f.issuingKey)
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
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"PT Uji"}, CommonName: cn},
		NotBefore: now.Add(-2 * time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
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

// config is the fixture's responder configuration.
func (f *fixture) config() tsa.Config {
	return tsa.Config{
		Signer: f.key, Certificate: f.tsaCert, Chain: []*x509.Certificate{f.issuing}, Policy: policy,
		Accuracy: time.Second, Now: f.clock.Now, Random: f.random, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func (f *fixture) responder(t testing.TB, reg prometheus.Registerer) *tsa.Responder {
	t.Helper()
	cfg := f.config()
	cfg.Registerer = reg
	r, err := tsa.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func serve(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// post sends body with content type ct and returns the response and body.
func post(t testing.TB, url, ct string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// openssl runs openssl in dir and returns its combined output; it fails
// the test if openssl exits non-zero.
func openssl(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writePEM(t testing.TB, path string, der []byte) {
	t.Helper()
	writeFile(t, path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clock is a Now func the test sets by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// countingReader counts the bytes drawn from r.
type countingReader struct {
	mu sync.Mutex
	r  io.Reader
	n  int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	c.n += n
	c.mu.Unlock()
	return n, err
}

func (c *countingReader) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// respStatus is the status part of a TimeStampResp, parsed independently
// of the package.
type respStatus struct {
	Status struct {
		Status       int
		StatusString []string       `asn1:"optional"`
		FailInfo     asn1.BitString `asn1:"optional"`
	}
	Token asn1.RawValue `asn1:"optional"`
}

func parseResp(t testing.TB, der []byte) respStatus {
	t.Helper()
	var r respStatus
	if rest, err := asn1.Unmarshal(der, &r); err != nil || len(rest) > 0 {
		t.Fatalf("not a TimeStampResp: %x (%v)", der, err)
	}
	return r
}

// counter reads appliance_tsa_responses_total{status} from reg.
func counter(t testing.TB, reg *prometheus.Registry, status string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "appliance_tsa_responses_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" && l.GetValue() == status {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no appliance_tsa_responses_total{status=%q}", status)
	return 0
}
