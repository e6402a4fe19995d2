package notify

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "appliance.db")
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func enqueue(t *testing.T, db *bolt.DB, msgs ...Message) []uint64 {
	t.Helper()
	var ids []uint64
	err := db.Update(func(tx *bolt.Tx) error {
		for _, m := range msgs {
			id, err := Enqueue(tx, m)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func getRecord(t *testing.T, db *bolt.DB, id uint64) Record {
	t.Helper()
	var r Record
	if err := db.View(func(tx *bolt.Tx) (err error) { r, err = Get(tx, id); return err }); err != nil {
		t.Fatal(err)
	}
	return r
}

func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newSMTPSender(t *testing.T, addr string, pool *x509.CertPool, mod func(*SMTPConfig)) *SMTPSender {
	t.Helper()
	cfg := SMTPConfig{
		Addr: addr, From: "PSrE Appliance <noreply@psre.test>", Username: testUser,
		PasswordFile: secretFile(t, testPass+"\n"), RootCAs: pool, Timeout: 10 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// failSender fails every attempt with err.
type failSender struct{ err error }

func (f failSender) Send(context.Context, Record) error { return f.err }
