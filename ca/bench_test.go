package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/psre/appliance/ca"
)

// BenchmarkIssuance measures end-to-end issuance (template, zlint, intent,
// HSM signature, checks, durable store) with concurrent requesters, beside
// the raw HSM signature rate of the same CA key in the same run.
func BenchmarkIssuance(b *testing.B) {
	tc := newTestCA(b)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	req := ca.Request{Profile: ca.ProfileOfficer, PublicKey: key.Public(), Name: "Bench Officer", Requester: "bench"}
	digest := sha256.Sum256([]byte("bench"))
	// The first issuance builds the linter's per-curve tables: keep it out.
	if _, err := tc.issuer.Issue(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2, 8, 32} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			const issuances = 400
			rawOps := 2000
			for i := 0; i < b.N; i++ {
				issueRate := rate(workers, issuances, func() error {
					_, err := tc.issuer.Issue(context.Background(), req)
					return err
				})
				rawRate := rate(workers, rawOps, func() error {
					_, err := tc.issuerSigner.Sign(rand.Reader, digest[:], crypto.SHA384)
					return err
				})
				if issueRate < 0 || rawRate < 0 {
					b.Fatal("an operation failed")
				}
				b.ReportMetric(issueRate, "certs/s")
				b.ReportMetric(rawRate, "hsm-signs/s")
				b.ReportMetric(issueRate/rawRate, "certs/hsm-sign")
			}
		})
	}
}

// rate runs total calls of f split over workers goroutines and returns the
// calls per second, or -1 if any failed.
func rate(workers, total int, f func() error) float64 {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := false
	start := time.Now()
	for w := 0; w < workers; w++ {
		n := total / workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := f(); err != nil {
					mu.Lock()
					failed = true
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed {
		return -1
	}
	return float64(total/workers*workers) / time.Since(start).Seconds()
}
