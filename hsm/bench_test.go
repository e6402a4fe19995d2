package hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
)

// signFunc signs digest; it must be safe for concurrent use.
type signFunc func(digest []byte) ([]byte, error)

// benchAlg is one algorithm of BenchmarkSignHSMvsGo with both its keys.
type benchAlg struct {
	name   string
	alg    hsm.Algorithm
	hash   crypto.Hash
	ops    int // signatures per iteration, each way; a multiple of benchRounds
	hsm    signFunc
	gosign signFunc
	hsmPub crypto.PublicKey // of the token key
	goPub  crypto.PublicKey // of the in-memory key
}

// verify reports whether sig is a valid signature of digest by pub.
func (a *benchAlg) verify(pub crypto.PublicKey, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, a.hash, digest, sig) == nil
	}
	return false
}

// benchRounds is how many alternating HSM and Go slices one iteration's
// count of signatures is cut into.
const benchRounds = 10

// BenchmarkSignHSMvsGo measures the signature rate of hsm.Signer (SoftHSM
// through the crypto11 session pool) beside the same signature computed
// in-process by Go's crypto, with 1 and 2 concurrent workers. Each
// iteration signs a fixed count of digests with each; the metrics are
// hsm-ops/s, go-ops/s and their ratio hsm/go (ns/op is one iteration, both
// runs). Run it with `make bench`.
func BenchmarkSignHSMvsGo(b *testing.B) {
	ctx := context.Background()
	env := hsmtest.New(b)
	tok := env.Token(b, "bench")

	algs := []*benchAlg{
		{name: "P-256", alg: hsm.ECDSAP256, hash: crypto.SHA256, ops: 2000},
		{name: "P-384", alg: hsm.ECDSAP384, hash: crypto.SHA384, ops: 2000},
		{name: "RSA-3072", alg: hsm.RSA3072, hash: crypto.SHA256, ops: 200},
	}
	for _, a := range algs {
		setupBenchAlg(ctx, b, tok, a)
	}

	workerCounts := []int{1, 2}
	rows := make([]string, len(algs)*len(workerCounts)) // the table printed at the end
	for i, a := range algs {
		for j, workers := range workerCounts {
			rows[i*len(workerCounts)+j] = fmt.Sprintf("%-9s %7d  (failed or not selected)", a.name, workers)
			b.Run(fmt.Sprintf("%s/workers=%d", a.name, workers), func(b *testing.B) {
				h := a.hash.New()
				h.Write([]byte(b.Name()))
				digest := h.Sum(nil)
				// Untimed warm-up (one session per worker in the pool), and
				// every signer must produce valid signatures before timing.
				for _, c := range []struct {
					origin string
					sign   signFunc
					pub    crypto.PublicKey
				}{{"hsm", a.hsm, a.hsmPub}, {"go", a.gosign, a.goPub}} {
					_, sigs := measure(b, c.sign, digest, workers, workers)
					for _, sig := range sigs {
						if !a.verify(c.pub, digest, sig) {
							b.Fatalf("%s %s signature does not verify", c.origin, a.name)
						}
					}
				}
				b.ResetTimer()
				var hsmTime, goTime time.Duration
				var hsmLast, goLast [][]byte
				for range b.N {
					// HSM and Go alternate in slices of the count, so that
					// load from elsewhere on the machine skews both alike.
					for range benchRounds {
						d, last := measure(b, a.hsm, digest, a.ops/benchRounds, workers)
						hsmTime, hsmLast = hsmTime+d, last
						d, last = measure(b, a.gosign, digest, a.ops/benchRounds, workers)
						goTime, goLast = goTime+d, last
					}
				}
				b.StopTimer()
				// The last signature of every worker, HSM and Go, must verify too.
				for w := range workers {
					if !a.verify(a.hsmPub, digest, hsmLast[w]) || !a.verify(a.goPub, digest, goLast[w]) {
						b.Fatalf("%s: a signature from the timed loop does not verify", a.name)
					}
				}
				total := float64(b.N * a.ops)
				hsmOps, goOps := total/hsmTime.Seconds(), total/goTime.Seconds()
				b.ReportMetric(hsmOps, "hsm-ops/s")
				b.ReportMetric(goOps, "go-ops/s")
				b.ReportMetric(hsmOps/goOps, "hsm/go")
				b.Logf("hsm %.0f ops/s, go %.0f ops/s, hsm/go %.3f (%d x %d signatures, workers=%d)",
					hsmOps, goOps, hsmOps/goOps, b.N, a.ops, workers)
				rows[i*len(workerCounts)+j] = fmt.Sprintf("%-9s %7d %10.0f %10.0f %7.3f",
					a.name, workers, hsmOps, goOps, hsmOps/goOps)
			})
		}
	}
	// The whole comparison at a glance, after the last benchmark line.
	fmt.Printf("\nsignatures/s, SoftHSM via hsm.Signer vs in-process Go crypto (GOMAXPROCS=%d):\n%s\n%s\n\n",
		runtime.GOMAXPROCS(0), "algorithm workers  hsm-ops/s   go-ops/s  hsm/go", strings.Join(rows, "\n"))
}

// setupBenchAlg generates a's key on the token and an in-memory Go key of
// the same kind, and fills in a's signers and public keys.
func setupBenchAlg(ctx context.Context, b *testing.B, tok *hsm.Token, a *benchAlg) {
	b.Helper()
	s, _, err := tok.GenerateKeyPair(ctx, "bench-"+string(a.alg), a.alg)
	if err != nil {
		b.Fatal(err)
	}
	if got := hsm.AlgorithmOf(s.Public()); got != a.alg {
		b.Fatalf("generated a %s key, the token returned a %q public key", a.alg, got)
	}
	a.hsm = func(d []byte) ([]byte, error) { return s.Sign(nil, d, a.hash) }
	a.hsmPub = s.Public()
	switch hpub := a.hsmPub.(type) {
	case *ecdsa.PublicKey:
		key, err := ecdsa.GenerateKey(hpub.Curve, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		a.gosign = func(d []byte) ([]byte, error) { return ecdsa.SignASN1(rand.Reader, key, d) }
		a.goPub = &key.PublicKey
	case *rsa.PublicKey:
		key, err := rsa.GenerateKey(rand.Reader, hpub.N.BitLen())
		if err != nil {
			b.Fatal(err)
		}
		a.gosign = func(d []byte) ([]byte, error) { return rsa.SignPKCS1v15(nil, key, a.hash, d) }
		a.goPub = &key.PublicKey
	}
}

// measure signs digest ops times, split evenly across workers goroutines,
// and returns the wall time and each worker's last signature.
func measure(b *testing.B, sign signFunc, digest []byte, ops, workers int) (time.Duration, [][]byte) {
	last := make([][]byte, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		n := ops / workers
		if w < ops%workers {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				sig, err := sign(digest)
				if err != nil {
					errs[w] = err
					return
				}
				last[w] = sig
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return elapsed, last
}
