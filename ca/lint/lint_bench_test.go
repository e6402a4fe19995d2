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

// BenchmarkPreSign measures building and linting one officer certificate,
// the CPU-heavy part of an issuance.
func BenchmarkPreSign(b *testing.B) {
	l, err := New()
	if err != nil {
		b.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	parent := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"T"}, CommonName: "CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{1}, PublicKey: caKey.Public()}
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
	if _, err := l.PreSign(tmpl, parent, key.Public(), false); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for j := 0; j < perIteration; j++ {
			if _, err := l.PreSign(tmpl, parent, key.Public(), false); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N*perIteration), "µs/cert")
}

// BenchmarkLintCost runs each lint that applies (after zlint's framework
// filter) on certificates shaped like the three profiles' and logs the most
// expensive, to show where linting time goes; it also reports the whole
// check and the zcrypto parse: go test -run '^$' -bench LintCost -v ./ca/lint/
func BenchmarkLintCost(b *testing.B) {
	l, err := New()
	if err != nil {
		b.Fatal(err)
	}
	type cost struct {
		name string
		d    time.Duration
	}
	const runs = 100
	certs := profileCerts(b)
	l.certs.smallKeys.check(certs[0].cert) // builds the curve's table
	for _, pc := range certs {
		set := l.certs
		if pc.privateTLS {
			set = l.privateTLSCerts
		}
		var costs []cost
		var total time.Duration
		// Each cost is the least of several timings, as other processes
		// share the machine.
		least := func(f func()) time.Duration {
			best := time.Duration(1 << 62)
			for rep := 0; rep < 7; rep++ {
				start := time.Now()
				for j := 0; j < runs; j++ {
					f()
				}
				best = min(best, time.Since(start)/runs)
			}
			return best
		}
		for i := 0; i < b.N; i++ {
			costs, total = costs[:0], 0
			for _, lints := range set.applicable(pc.cert) {
				for _, lt := range lints {
					d := least(func() { execute(lt, pc.cert, set.cfg) })
					costs = append(costs, cost{lt.Name, d})
					total += d
				}
			}
			d := least(func() { set.smallKeys.check(pc.cert) })
			costs = append(costs, cost{smallKeyLint + " (ours)", d})
			total += d
			parse := least(func() {
				if _, err := zx509.ParseCertificate(pc.der); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(parse.Nanoseconds())/1000, "µs/zcrypto-parse-"+pc.name)
			all := least(func() {
				if err := set.check(pc.cert); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(all.Nanoseconds())/1000, "µs/check-"+pc.name)
		}
		sort.Slice(costs, func(i, j int) bool { return costs[i].d > costs[j].d })
		b.ReportMetric(float64(total.Nanoseconds())/1000, "µs/lints-"+pc.name)
		b.Logf("%s: %d lints, %.1f µs", pc.name, len(costs), float64(total.Nanoseconds())/1000)
		for _, c := range costs[:12] {
			b.Logf("  %-62s %6.2f µs (%4.1f%%)", c.name, float64(c.d.Nanoseconds())/1000, 100*float64(c.d)/float64(total))
		}
	}
}
