package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"syscall"
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
	for _, workers := range []int{1, 2, 8, 32, 128} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			issuances := max(400, 8*workers)
			rawOps := 2000
			for i := 0; i < b.N; i++ {
				tc.issuer.ResetSplit()
				gs0 := tc.db.GroupCommitStats()
				cpu0, sys0 := cpuTime()
				issueRate := rate(workers, issuances, func() error {
					_, err := tc.issuer.Issue(context.Background(), req)
					return err
				})
				cpu, sys := cpuTime()
				cpu, sys = cpu-cpu0, sys-sys0
				gs := tc.db.GroupCommitStats()
				split, n := tc.issuer.Split()
				commits, writes := gs.Commits-gs0.Commits, gs.Writes-gs0.Writes
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
				b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/cert")
				b.ReportMetric(float64(writes)/float64(commits), "writes/commit")
				b.Logf("%3d requesters: %6.0f certs/s, %4.0f µs CPU/cert (process, SoftHSM included; %.0f system), %d commits of %.1f writes, %.0f µs each (%.0f µs applying); mean wall µs per phase: %s",
					workers, issueRate, float64(cpu.Microseconds())/float64(n), float64(sys.Microseconds())/float64(n), commits, float64(writes)/float64(commits),
					float64((gs.Busy-gs0.Busy).Microseconds())/float64(commits), float64((gs.Apply-gs0.Apply).Microseconds())/float64(commits), formatSplit(split))
			}
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used, and the
// system part.
func cpuTime() (total, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}

// formatSplit prints the phases in issuance order.
func formatSplit(split map[string]time.Duration) string {
	var b strings.Builder
	for _, name := range []string{"template", "build", "lint", "intent", "hsm", "check", "store"} {
		fmt.Fprintf(&b, " %s %.0f", name, float64(split[name].Nanoseconds())/1000)
	}
	return b.String()
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

// BenchmarkIssuanceParallel issues b.N certificates with 32 requesters and
// nothing else, for profiling: go test -run x -bench IssuanceParallel
// -benchtime 4000x -cpuprofile cpu.out ./ca/
func BenchmarkIssuanceParallel(b *testing.B) {
	tc := newTestCA(b)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	req := ca.Request{Profile: ca.ProfileOfficer, PublicKey: key.Public(), Name: "Bench Officer", Requester: "bench"}
	if _, err := tc.issuer.Issue(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16) // 32 requesters on 2 cores
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tc.issuer.Issue(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "certs/s")
	split, n := tc.issuer.Split()
	b.Logf("%d certificates; mean wall µs per phase: %s", n, formatSplit(split))
}
