package ocsp_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	xocsp "golang.org/x/crypto/ocsp"

	"github.com/psre/appliance/ca/ocsp"
)

// BenchmarkOCSP measures responses per second over keep-alive HTTP
// connections: from the pre-signed cache (no nonce) and live-signed (with a
// nonce), beside the raw HSM signature rate of the responder key in the
// same run.
func BenchmarkOCSP(b *testing.B) {
	f := newFixture(b)
	leaf := f.leaf(b, 7, false)
	f.status.set(7, ocsp.CertStatus{Status: xocsp.Good})
	srv := httptest.NewServer(f.responder(b, nil, nil))
	defer srv.Close()
	plain := f.request(b, leaf, crypto.SHA1)
	digest := sha256.Sum256([]byte("bench"))
	for _, workers := range []int{1, 2, 8} {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
		// post sends one request; the client only checks the envelope in the
		// timed loop (verifying each response would measure the client), and
		// verifies one response of each kind in full below.
		post := func(body []byte, verify bool) error {
			resp, err := client.Post(srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(body))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			der, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || len(der) < 100 || der[0] != 0x30 {
				return fmt.Errorf("HTTP %d, %d bytes", resp.StatusCode, len(der))
			}
			if verify {
				r, err := xocsp.ParseResponse(der, f.issuing)
				if err != nil || r.Status != xocsp.Good {
					return fmt.Errorf("response: %v, %v", r, err)
				}
			}
			return nil
		}
		for _, mode := range []string{"cache", "live"} {
			b.Run(fmt.Sprintf("%s/workers=%d", mode, workers), func(b *testing.B) {
				body := func() []byte {
					if mode == "cache" {
						return plain
					}
					nonce := make([]byte, 16)
					rand.Read(nonce)
					return withNonce(b, plain, nonce)
				}
				if err := post(body(), true); err != nil {
					b.Fatal(err)
				}
				for i := 0; i < b.N; i++ {
					ops := 4000
					if mode == "live" {
						ops = 2000
					}
					got := perSecond(workers, ops, func() error { return post(body(), false) })
					raw := perSecond(workers, 2000, func() error {
						_, err := f.key.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
						return err
					})
					if got < 0 || raw < 0 {
						b.Fatal("an operation failed")
					}
					b.ReportMetric(got, "responses/s")
					b.ReportMetric(raw, "hsm-signs/s")
					b.ReportMetric(got/raw, "responses/hsm-sign")
				}
			})
		}
	}
}

// perSecond runs total calls of fn over workers goroutines; -1 on failure.
func perSecond(workers, total int, fn func() error) float64 {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < total/workers; i++ {
				if err := fn(); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		return -1
	}
	return float64(total/workers*workers) / time.Since(start).Seconds()
}
