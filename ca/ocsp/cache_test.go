package ocsp_test

import (
	"bytes"
	"context"
	"crypto"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/psre/appliance/ca/ocsp"
	"github.com/psre/appliance/store"
	xocsp "golang.org/x/crypto/ocsp"
)

func TestInvalidateAfterRevocation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := openDB(t)
	r := f.responder(t, db, nil)
	leaf := f.leaf(t, 0x4001, false)
	f.status.set(0x4001, ocsp.CertStatus{Status: xocsp.Good})
	if err := r.Presign(ctx, "issuing", leaf.SerialNumber); err != nil {
		t.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		resp, live, err := r.Respond(ctx, f.request(t, leaf, h))
		if err != nil || live || f.parse(t, resp).Status != xocsp.Good {
			t.Fatalf("%v after Presign: live=%v err=%v", h, live, err)
		}
	}
	revokedAt := f.clock.Now()
	f.status.set(0x4001, ocsp.CertStatus{Status: xocsp.Revoked, RevokedAt: revokedAt, Reason: xocsp.Superseded})
	if resp, _, _ := r.Respond(ctx, f.request(t, leaf, crypto.SHA1)); f.parse(t, resp).Status != xocsp.Good {
		t.Fatal("the cache should still hold good before Invalidate")
	}
	if err := r.Invalidate(ctx, "issuing", leaf.SerialNumber); err != nil {
		t.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		resp, live, err := r.Respond(ctx, f.request(t, leaf, h))
		if err != nil || live {
			t.Fatalf("%v after Invalidate: live=%v err=%v (it should be pre-signed)", h, live, err)
		}
		if p := f.parse(t, resp); p.Status != xocsp.Revoked || p.RevocationReason != xocsp.Superseded {
			t.Fatalf("%v after Invalidate: status %d reason %d", h, p.Status, p.RevocationReason)
		}
	}
	// The store holds the revoked response too: a restarted responder serves it.
	for _, key := range []string{leaf.SerialNumber.Text(16), leaf.SerialNumber.Text(16) + "/sha256"} {
		der, _, ok, err := db.GetOCSP("issuing", key)
		if err != nil || !ok || f.parse(t, der).Status != xocsp.Revoked {
			t.Fatalf("stored response %s after Invalidate: ok=%v err=%v", key, ok, err)
		}
	}
	if err := r.Presign(ctx, "issuing", big.NewInt(0x4999)); err == nil {
		t.Fatal("Presign of an unknown serial succeeded")
	}
	if err := r.Invalidate(ctx, "admin", leaf.SerialNumber); err == nil {
		t.Fatal("Invalidate for a CA not served succeeded")
	}
}

func TestRefreshPastHalfLife(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	r := f.responder(t, nil, reg)
	a, b := f.leaf(t, 0x5001, false), f.leaf(t, 0x5002, false)
	f.status.set(0x5001, ocsp.CertStatus{Status: xocsp.Good})
	f.status.set(0x5002, ocsp.CertStatus{Status: xocsp.Good})
	first, _, _ := r.Respond(ctx, f.request(t, a, crypto.SHA1))
	f.clock.advance(6 * time.Hour)
	if _, _, err := r.Respond(ctx, f.request(t, b, crypto.SHA1)); err != nil {
		t.Fatal(err)
	}
	f.clock.advance(6*time.Hour + time.Second) // a: 12h01s old, b: 6h01s old
	f.status.set(0x5001, ocsp.CertStatus{Status: xocsp.Revoked, RevokedAt: f.clock.Now(), Reason: xocsp.KeyCompromise})
	before := f.key.n.Load()
	n, err := r.Refresh(ctx)
	if err != nil || n != 1 || f.key.n.Load() != before+1 {
		t.Fatalf("Refresh: %d, %v, %d signatures", n, err, f.key.n.Load()-before)
	}
	resp, live, err := r.Respond(ctx, f.request(t, a, crypto.SHA1))
	if err != nil || live || bytes.Equal(resp, first) {
		t.Fatalf("after Refresh: live=%v err=%v same=%v", live, err, bytes.Equal(resp, first))
	}
	if p := f.parse(t, resp); p.Status != xocsp.Revoked || !p.ThisUpdate.Equal(f.clock.Now().Truncate(time.Second)) {
		t.Fatalf("refreshed response: status %d thisUpdate %v", p.Status, p.ThisUpdate)
	}
	if n, err := r.Refresh(ctx); n != 0 || err != nil {
		t.Fatalf("second Refresh: %d %v", n, err)
	}
	if got := counter(t, reg, "appliance_ocsp_cache_refreshes_total", nil); got != 1 {
		t.Fatalf("refresh counter %v", got)
	}
	// A request past half-life re-signs on its own, without Refresh.
	f.clock.advance(6 * time.Hour)
	if _, live, _ := r.Respond(ctx, f.request(t, b, crypto.SHA1)); !live {
		t.Fatal("a response with less than half its life left was served from the cache")
	}
	for _, want := range []struct {
		status, source string
		n              float64
	}{{"good", "live", 3}, {"revoked", "cache", 1}, {"good", "cache", 0}, {"malformed", "live", 0}} {
		got := counter(t, reg, "appliance_ocsp_responses_total", map[string]string{"status": want.status, "source": want.source})
		if got != want.n {
			t.Errorf("responses{%s,%s} = %v, want %v", want.status, want.source, got, want.n)
		}
	}
}

func TestPersistentCacheAcrossResponders(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := openDB(t)
	leaf := f.leaf(t, 0x6001, false)
	f.status.set(0x6001, ocsp.CertStatus{Status: xocsp.Good})
	req := f.request(t, leaf, crypto.SHA1)
	first, live, err := f.responder(t, db, nil).Respond(ctx, req)
	if err != nil || !live {
		t.Fatalf("first: live=%v err=%v", live, err)
	}
	before := f.key.n.Load()
	second := f.responder(t, db, nil)
	resp, live, err := second.Respond(ctx, req)
	if err != nil || live || !bytes.Equal(resp, first) || f.key.n.Load() != before {
		t.Fatalf("second responder: live=%v err=%v equal=%v signatures=%d", live, err, bytes.Equal(resp, first), f.key.n.Load()-before)
	}
	// Past half-life the stored response is signed again, and stored.
	f.clock.advance(13 * time.Hour)
	third, live, err := f.responder(t, db, nil).Respond(ctx, req)
	if err != nil || !live || bytes.Equal(third, first) {
		t.Fatalf("after half-life: live=%v err=%v", live, err)
	}
	if resp, live, _ := f.responder(t, db, nil).Respond(ctx, req); live || !bytes.Equal(resp, third) {
		t.Fatal("the re-signed response was not stored")
	}
}

func TestConcurrentMissSignsOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.responder(t, openDB(t), nil)
	leaf := f.leaf(t, 0x7001, false)
	f.status.set(0x7001, ocsp.CertStatus{Status: xocsp.Good})
	req := f.request(t, leaf, crypto.SHA1)
	const n = 32
	out := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, _, err := r.Respond(ctx, req)
			if err != nil {
				t.Error(err)
			}
			out[i] = resp
		})
	}
	wg.Wait()
	if got := f.key.n.Load(); got != 1 {
		t.Fatalf("%d signatures for %d concurrent requests of one certificate", got, n)
	}
	for i := range out {
		if !bytes.Equal(out[i], out[0]) {
			t.Fatal("concurrent requests got different responses")
		}
	}
}

func TestServesPreviousResponseWhenSigningFails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.responder(t, nil, nil)
	leaf := f.leaf(t, 0x8001, false)
	f.status.set(0x8001, ocsp.CertStatus{Status: xocsp.Good})
	req := f.request(t, leaf, crypto.SHA1)
	first, _, _ := r.Respond(ctx, req)
	f.clock.advance(20 * time.Hour)
	f.status.setFail(true)
	resp, live, err := r.Respond(ctx, req)
	if err != nil || live || !bytes.Equal(resp, first) {
		t.Fatalf("still valid response not served: live=%v err=%v", live, err)
	}
	f.clock.advance(5 * time.Hour) // now expired
	if resp, _, err := r.Respond(ctx, req); err == nil || !bytes.Equal(resp, xocsp.InternalErrorErrorResponse) {
		t.Fatalf("expired response served: %v", err)
	}
}

func openDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "appliance.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// counter reads one counter series from reg.
func counter(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}
