package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sort"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
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
	// The first certificate builds the small-key table of the curve, once
	// per process.
	if _, err := l.PreSign(tmpl, parent, key.Public(), caKey, false); err != nil {
		b.Fatal(err)
	}
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

// BenchmarkLintCost runs each lint of the registry on one officer
// certificate and logs the most expensive, to show where linting time goes.
func BenchmarkLintCost(b *testing.B) {
	l, err := New()
	if err != nil {
		b.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: new(big.Int).Lsh(big.NewInt(1), 100), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "Officer"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		SubjectKeyId: []byte{2}, AuthorityKeyId: []byte{1}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), caKey)
	if err != nil {
		b.Fatal(err)
	}
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	type cost struct {
		name string
		d    time.Duration
	}
	const runs = 50
	var costs []cost
	var total time.Duration
	for i := 0; i < b.N; i++ {
		costs, total = costs[:0], 0
		for _, lt := range l.certs.lints {
			start := time.Now()
			for j := 0; j < runs; j++ {
				lt.Execute(c, l.certs.cfg)
			}
			d := time.Since(start) / runs
			costs = append(costs, cost{lt.Name, d})
			total += d
		}
	}
	sort.Slice(costs, func(i, j int) bool { return costs[i].d > costs[j].d })
	b.ReportMetric(float64(total.Microseconds()), "µs/cert-all-lints")
	for _, c := range costs[:8] {
		b.Logf("%-55s %6.1f µs (%4.1f%%)", c.name, float64(c.d.Nanoseconds())/1000, 100*float64(c.d)/float64(total))
	}
}
