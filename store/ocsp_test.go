package store

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestOCSPCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appliance.db")
	db, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, _, ok, err := db.GetOCSP("issuing", "abc"); ok || err != nil {
		t.Fatalf("empty cache: ok=%v err=%v", ok, err)
	}
	if err := db.PutOCSP("issuing", "abc", []byte("good"), false, t0, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	der, next, ok, err := db.GetOCSP("issuing", "abc")
	if err != nil || !ok || string(der) != "good" || !next.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("got %q %v %v %v", der, next, ok, err)
	}
	if _, _, ok, _ := db.GetOCSP("admin", "abc"); ok {
		t.Fatal("the key must include the CA")
	}
	// An older response never replaces a newer one; an equal or newer does.
	if err := db.PutOCSP("issuing", "abc", []byte("older"), false, t0.Add(-time.Hour), t0.Add(23*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if der, _, _, _ := db.GetOCSP("issuing", "abc"); string(der) != "good" {
		t.Fatalf("older response stored: %q", der)
	}
	if err := db.PutOCSP("issuing", "abc", []byte("revoked"), true, t0, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if der, _, _, _ := db.GetOCSP("issuing", "abc"); string(der) != "revoked" {
		t.Fatalf("same-second replacement lost: %q", der)
	}
	for _, bad := range [][2]string{{"", "abc"}, {"a/b", "abc"}, {"issuing", ""}} {
		if err := db.PutOCSP(bad[0], bad[1], []byte("x"), false, t0, t0.Add(time.Hour)); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
	if err := db.PutOCSP("issuing", "def", nil, false, t0, t0.Add(time.Hour)); err == nil {
		t.Error("empty response accepted")
	}
	if err := db.PutOCSP("issuing", "def", []byte("x"), false, t0, t0); err == nil {
		t.Error("nextUpdate == thisUpdate accepted")
	}

	// Many concurrent writers (db.Batch) all land.
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := db.PutOCSP("admin", fmt.Sprintf("%x", i+1), []byte{byte(i)}, false, t0, t0.Add(time.Hour)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	db.Close()

	db, err = Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 50 {
		der, _, ok, err := db.GetOCSP("admin", fmt.Sprintf("%x", i+1))
		if err != nil || !ok || !bytes.Equal(der, []byte{byte(i)}) {
			t.Fatalf("serial %x after reopen: %q %v %v", i+1, der, ok, err)
		}
	}
	for _, serial := range []string{"abc/sha256", "abcd", "abcd/sha256"} {
		if err := db.PutOCSP("issuing", serial, []byte(serial), false, t0, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteOCSP("issuing", "abc"); err != nil {
		t.Fatal(err)
	}
	for serial, want := range map[string]bool{"abc": false, "abc/sha256": false, "abcd": true, "abcd/sha256": true} {
		if _, _, ok, _ := db.GetOCSP("issuing", serial); ok != want {
			t.Errorf("after DeleteOCSP(abc): %s present=%v, want %v", serial, ok, want)
		}
	}
	if err := db.DeleteOCSP("issuing", "abc"); err != nil {
		t.Fatalf("deleting a missing response: %v", err)
	}
}

func TestRevokeDropsPresignedOCSPResponses(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "a.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	if err := db.RecordIntent(CertRecord{Serial: "abc1", CA: "admin", TBSHash: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteIssuance("abc1", []byte{1}, []byte{0x30}, now); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"abc1", "abc1/sha256"} {
		if err := db.PutOCSP("admin", s, []byte("good"), false, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := db.Revoke("abc1", Revocation{Reason: 1, Actor: "t", At: now}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"abc1", "abc1/sha256"} {
		if _, _, ok, err := db.GetOCSP("admin", s); err != nil || ok {
			t.Fatalf("OCSP response %s survived the revocation: ok=%v err=%v", s, ok, err)
		}
	}
}

// A "good" response signed while a revocation committed must not be
// stored, nor served from the store after the revocation.
func TestOCSPCacheNeverKeepsGoodForARevokedCertificate(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "a.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	if err := db.RecordIntent(CertRecord{Serial: "abc2", CA: "admin", TBSHash: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteIssuance("abc2", []byte{1}, []byte{0x30}, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Revoke("abc2", Revocation{Reason: 1, Actor: "t", At: now}); err != nil {
		t.Fatal(err)
	}
	// The race: a good response signed before the revocation arrives after it.
	if err := db.PutOCSP("admin", "abc2", []byte("good"), false, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := db.GetOCSP("admin", "abc2"); err != nil || ok {
		t.Fatalf("a good response was kept for a revoked certificate: ok=%v err=%v", ok, err)
	}
	if err := db.PutOCSP("admin", "abc2/sha256", []byte("revoked"), true, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if der, _, ok, err := db.GetOCSP("admin", "abc2/sha256"); err != nil || !ok || string(der) != "revoked" {
		t.Fatalf("the revoked response: %q ok=%v err=%v", der, ok, err)
	}
}
