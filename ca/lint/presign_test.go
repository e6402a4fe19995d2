package lint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	zlintlint "github.com/zmap/zlint/v3/lint"
)

// TestPreSignAssemble: the TBS linted with a throwaway key, signed by the
// real issuer key through Assemble, gives a certificate that verifies
// against the issuer, for each issuer key type the CA may have.
func TestPreSignAssemble(t *testing.T) {
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsa3072, _ := rsa.GenerateKey(rand.Reader, 3072)
	subject, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Truncate(time.Second)
	for name, caKey := range map[string]crypto.Signer{"P-256": p256, "P-384": p384, "RSA-3072": rsa3072} {
		t.Run(name, func(t *testing.T) {
			caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"T"}, CommonName: "CA " + name},
				NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{1, 2, 3}}
			caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
			if err != nil {
				t.Fatal(err)
			}
			caCert, _ := x509.ParseCertificate(caDER)
			throwaway, err := ThrowawayKey(caKey.Public())
			if err != nil {
				t.Fatal(err)
			}
			tmpl := &x509.Certificate{SerialNumber: new(big.Int).Lsh(big.NewInt(1), 100), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "Officer"},
				NotBefore: now, NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
				SubjectKeyId: []byte{9}, CRLDistributionPoints: []string{"http://127.0.0.1:8080/crl/admin.crl"}, OCSPServer: []string{"http://127.0.0.1:8080/ocsp"},
				IssuingCertificateURL: []string{"http://127.0.0.1:8080/certs/admin.der"}}
			linted, err := l.PreSign(tmpl, caCert, subject.Public(), false)
			if err != nil {
				t.Fatal(err)
			}
			der, err := linted.Assemble(caKey)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignatureFrom(caCert); err != nil {
				t.Fatalf("assembled certificate does not verify: %v", err)
			}
			if err := l.Certificate(der); err != nil {
				t.Fatalf("assembled certificate fails the lints: %v", err)
			}
			if _, err := linted.Assemble(throwaway); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPlaceholderLintsLikeSigned: every zlint certificate lint (the skipped
// and replaced ones too) gives the same result on the certificate PreSign
// lints (placeholder signature) as on the same TBS signed for real, for
// each issuer key type and profile shape.
func TestPlaceholderLintsLikeSigned(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsa3072, _ := rsa.GenerateKey(rand.Reader, 3072)
	subject, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Truncate(time.Second)
	lints := zlintlint.GlobalRegistry().CertificateLints().Lints()
	for name, caKey := range map[string]crypto.Signer{"P-256": p256, "P-384": p384, "RSA-3072": rsa3072} {
		caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "CA " + name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{1, 2, 3}}
		caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		caCert, _ := x509.ParseCertificate(caDER)
		for _, tmpl := range []*x509.Certificate{
			{SerialNumber: big.NewInt(77), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "Officer"}, NotBefore: now, NotAfter: now.AddDate(1, 0, 0),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, SubjectKeyId: []byte{9}},
			{SerialNumber: big.NewInt(78), Subject: pkix.Name{CommonName: "console.example.co.id"}, NotBefore: now, NotAfter: now.AddDate(0, 3, 0),
				DNSNames: []string{"console.example.co.id"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, SubjectKeyId: []byte{9}},
		} {
			tbs, err := BuildTBS(tmpl, caCert, subject.Public())
			if err != nil {
				t.Fatal(err)
			}
			alg, _ := tbsSignatureAlgorithm(tbs)
			placeholder, err := placeholderSignature(caKey.Public())
			if err != nil {
				t.Fatal(err)
			}
			linted := Linted{TBS: tbs, SigAlg: alg}
			pDER, err := encodeCertificate(linted, placeholder)
			if err != nil {
				t.Fatal(err)
			}
			sDER, err := linted.Assemble(caKey)
			if err != nil {
				t.Fatal(err)
			}
			pc, err := zx509.ParseCertificate(pDER)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := zx509.ParseCertificate(sDER)
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.Signature) > len(pc.Signature) {
				t.Errorf("%s: a real signature (%d bytes) is longer than the placeholder (%d)", name, len(sc.Signature), len(pc.Signature))
			}
			cfg := zlintlint.NewEmptyConfig()
			for _, l := range lints {
				p, s := l.Execute(pc, cfg), l.Execute(sc, cfg)
				if p.Status != s.Status || p.Details != s.Details {
					t.Errorf("%s, %s: %s gives %s %q on the placeholder, %s %q signed", name, tmpl.Subject.CommonName, l.Name, p.Status, p.Details, s.Status, s.Details)
				}
			}
		}
	}
}
