package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/ocsp"
)

// testPKI is a small CA hierarchy: a root, an issuing CA under it, a TSA
// certificate under the root, and subscriber certificates from the CA.
type testPKI struct {
	root, ca, tsa          *x509.Certificate
	rootKey, caKey, tsaKey *ecdsa.PrivateKey
	now                    time.Time
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return s.Add(s, big.NewInt(1))
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	p := &testPKI{rootKey: newKey(t), caKey: newKey(t), tsaKey: newKey(t), now: time.Now()}
	ca := func(cn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: serial(t), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"PSrE Test"}, CommonName: cn},
			NotBefore: p.now.Add(-time.Hour), NotAfter: p.now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
		}
	}
	root := ca("PSrE Test Root")
	p.root = issue(t, root, root, p.rootKey.Public(), p.rootKey)
	p.ca = issue(t, ca("PSrE Test Individual CA"), p.root, p.caKey.Public(), p.rootKey)
	// openssl ts -verify wants the TSA's extendedKeyUsage critical.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	p.tsa = issue(t, &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "PSrE Test TSA"},
		NotBefore: p.now.Add(-time.Hour), NotAfter: p.now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}, p.root, p.tsaKey.Public(), p.rootKey)
	return p
}

// subscriber issues a signing certificate for pub with the extended key
// usages id-kp-documentSigning and id-kp-emailProtection: poppler 22.12
// (NSS, the email-signer usage) does not trust a certificate whose only
// EKU is documentSigning (see TestPopplerAndDocumentSigningEKU).
func (p *testPKI) subscriber(t testing.TB, pub crypto.PublicKey, name string) *x509.Certificate {
	t.Helper()
	return p.subscriberEKU(t, pub, name, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, oidDocumentSigning)
}

var oidDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

func (p *testPKI) subscriberEKU(t testing.TB, pub crypto.PublicKey, name string, eku []x509.ExtKeyUsage, other ...asn1.ObjectIdentifier) *x509.Certificate {
	t.Helper()
	return issue(t, &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{Country: []string{"ID"}, CommonName: name},
		NotBefore: p.now.Add(-time.Hour), NotAfter: p.now.Add(12 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage: eku, UnknownExtKeyUsage: other,
	}, p.ca, pub, p.caKey)
}

// ocsp returns a DER OCSP response of status for cert, signed by the CA.
func (p *testPKI) ocsp(t testing.TB, cert *x509.Certificate, status int) []byte {
	t.Helper()
	der, err := ocsp.CreateResponse(p.ca, p.ca, ocsp.Response{
		Status: status, SerialNumber: cert.SerialNumber, RevokedAt: p.now.Add(-time.Minute),
		ThisUpdate: p.now.Add(-time.Minute), NextUpdate: p.now.Add(time.Hour),
	}, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// timestamper is an in-process RFC 3161 TSA signing with the TSA key; it
// counts its calls.
func (p *testPKI) timestamper(calls *int) Timestamper {
	return TimestamperFunc(func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
		*calls++
		ts := timestamp.Timestamp{
			HashAlgorithm: h, HashedMessage: digest, Time: time.Now(), Accuracy: time.Second,
			Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, AddTSACertificate: true,
		}
		resp, err := ts.CreateResponseWithOpts(p.tsa, p.tsaKey, crypto.SHA256)
		if err != nil {
			return nil, err
		}
		parsed, err := timestamp.ParseResponse(resp)
		if err != nil {
			return nil, err
		}
		return parsed.RawToken, nil
	})
}

// writePEM writes certificates to dir/name as PEM and returns the path.
func writePEM(t testing.TB, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
