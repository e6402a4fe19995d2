package notify

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The test: a crash between the state change and the send loses
// nothing.
func TestCrashBeforeSendLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appliance.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("applications"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("app-1"), []byte("verification_requested")); err != nil {
			return err
		}
		_, err = Enqueue(tx, Message{Channel: ChannelEmail, To: "budi@example.test", Subject: "S", Text: "T", Kind: KindRequestReceived})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // the process dies before any dispatch
		t.Fatal(err)
	}

	db = openDB(t, path)
	cert, pool := testCA(t)
	srv := startSMTP(t, "", &cert, nil)
	d := newDispatcher(t, DispatcherConfig{DB: db, Email: newSMTPSender(t, srv.Addr, pool, nil)})
	runOnce(t, d, 1)
	if n := len(srv.received()); n != 1 {
		t.Fatalf("received %d", n)
	}
	if r := getRecord(t, db, 1); r.Status != StatusSent {
		t.Fatalf("status %s", r.Status)
	}
}

// crashAfterSend delivers, then reports a failure, as if the process died
// before the sent mark was committed.
type crashAfterSend struct{ Sender }

func (c crashAfterSend) Send(ctx context.Context, r Record) error {
	if err := c.Sender.Send(ctx, r); err != nil {
		return err
	}
	return errors.New("crash after the server accepted")
}

func TestResendAfterCrashKeepsMessageID(t *testing.T) {
	db := openDB(t, "")
	clock := newClock()
	cert, pool := testCA(t)
	srv := startSMTP(t, "", &cert, nil)
	real := newSMTPSender(t, srv.Addr, pool, nil)
	id := enqueue(t, db, Message{Channel: ChannelEmail, To: "budi@example.test", Subject: "S", Text: "T", HTML: "<p>T</p>", Kind: "test"})[0]

	runOnce(t, newDispatcher(t, DispatcherConfig{DB: db, Email: crashAfterSend{real}, Now: clock.Now}), 0)
	if r := getRecord(t, db, id); r.Status != StatusPending || r.Attempts != 1 {
		t.Fatalf("%+v", r)
	}
	clock.Advance(time.Minute)
	runOnce(t, newDispatcher(t, DispatcherConfig{DB: db, Email: real, Now: clock.Now}), 1)
	got := srv.received()
	if len(got) != 2 {
		t.Fatalf("received %d, want 2 (at least once)", len(got))
	}
	a, b := parseMail(t, got[0].Data), parseMail(t, got[1].Data)
	if a.Header.Get("Message-Id") == "" || a.Header.Get("Message-Id") != b.Header.Get("Message-Id") || a.Header.Get("Date") != b.Header.Get("Date") {
		t.Fatalf("Message-ID %q / %q, Date %q / %q", a.Header.Get("Message-Id"), b.Header.Get("Message-Id"), a.Header.Get("Date"), b.Header.Get("Date"))
	}
}
