package audit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openDB opens a fresh bbolt file in the test's directory.
func openDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "audit.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock is a fake time source: each call is one second after the last.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newLog(t *testing.T, signer crypto.Signer, every int) *Log {
	t.Helper()
	l, err := New(Config{Signer: signer, Every: every, Now: newClock().now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// entry is the i-th test entry.
func entry(i int) Entry {
	return Entry{Actor: fmt.Sprintf("officer-%d", i), Action: "cert.issue", Object: fmt.Sprintf("serial-%d", i),
		Details: map[string]string{"profile": "individual", "ca": "issuing"}}
}

// appendN appends n entries, one transaction each.
func appendN(t *testing.T, db *bolt.DB, l *Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		err := db.Update(func(tx *bolt.Tx) error {
			_, err := l.Append(tx, entry(i+1))
			return err
		})
		if err != nil {
			t.Fatalf("append %d: %v", i+1, err)
		}
	}
}

func verify(db *bolt.DB, pub crypto.PublicKey, every int) (rep Report, err error) {
	db.View(func(tx *bolt.Tx) error {
		rep, err = Verify(tx, pub, every)
		return nil
	})
	return rep, err
}

// wantBroken requires err to be a *BrokenError at seq.
func wantBroken(t *testing.T, err error, seq uint64, reason string) {
	t.Helper()
	b, ok := IsBroken(err)
	if !ok {
		t.Fatalf("Verify: %v, want a *BrokenError at %d", err, seq)
	}
	if b.Seq != seq {
		t.Errorf("BrokenError at seq %d (%s), want %d", b.Seq, b.Reason, seq)
	}
	if reason != "" && !strings.Contains(b.Reason, reason) {
		t.Errorf("reason %q lacks %q", b.Reason, reason)
	}
}

// flakySigner fails while fail is set.
type flakySigner struct {
	crypto.Signer
	fail  atomic.Bool
	calls atomic.Int64
}

func (f *flakySigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	f.calls.Add(1)
	if f.fail.Load() {
		return nil, errors.New("CKR_DEVICE_ERROR (simulated)")
	}
	return f.Signer.Sign(r, d, o)
}

// count returns the number of keys in a bucket.
func count(t *testing.T, db *bolt.DB, bucket []byte) int {
	t.Helper()
	n := 0
	db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucket); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n
}
