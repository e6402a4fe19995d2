package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// BenchmarkPreSign measures building, throwaway-signing and linting one
// officer certificate, the CPU-heavy part of an issuance.
func BenchmarkPreSign(b *testing.B) {
	l, err := New()
	if err != nil {
		b.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	parent := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"T"}, CommonName: "CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{1}}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: new(big.Int).Lsh(big.NewInt(1), 100), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "Officer"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		SubjectKeyId: []byte{2}, CRLDistributionPoints: []string{"http://127.0.0.1:8080/crl/admin.crl"}, OCSPServer: []string{"http://127.0.0.1:8080/ocsp"},
		IssuingCertificateURL: []string{"http://127.0.0.1:8080/certs/admin.der"}}
	// make bench runs each benchmark once (-benchtime 1x): time a fixed
	// number of certificates per iteration and report the cost of one.
	const perIteration = 300
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for j := 0; j < perIteration; j++ {
			if _, err := l.PreSign(tmpl, parent, key.Public(), caKey, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N*perIteration), "µs/cert")
}
