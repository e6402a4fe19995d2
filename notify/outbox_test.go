package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestEnqueueFollowsTheTransaction(t *testing.T) {
	db := openDB(t, "")
	m := Message{Channel: ChannelEmail, To: "budi@example.test", Subject: "S", Text: "T", Kind: "test"}
	rollback := errors.New("state change refused")
	err := db.Update(func(tx *bolt.Tx) error {
		if _, err := Enqueue(tx, m); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	count := func() (n int) {
		_ = db.View(func(tx *bolt.Tx) error { return Each(tx, false, func(Record) error { n++; return nil }) })
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("rolled back transaction left %d messages", n)
	}
	id := enqueue(t, db, m)[0]
	if n := count(); n != 1 {
		t.Fatalf("committed transaction left %d messages", n)
	}
	r := getRecord(t, db, id)
	if r.Status != StatusPending || r.Attempts != 0 || !strings.HasPrefix(r.MessageID, "outbox-1.") || r.Created.IsZero() {
		t.Fatalf("record %+v", r)
	}
}

func TestEnqueueValidates(t *testing.T) {
	db := openDB(t, "")
	ok := Message{Channel: ChannelEmail, To: "budi@example.test", Subject: "S", Text: "T"}
	sms := Message{Channel: ChannelSMS, To: "+6281234567890", Text: "T"}
	with := func(m Message, f func(*Message)) Message { f(&m); return m }
	for name, m := range map[string]Message{
		"bad address":    with(ok, func(m *Message) { m.To = "budi" }),
		"no subject":     with(ok, func(m *Message) { m.Subject = "" }),
		"no text":        with(ok, func(m *Message) { m.Text = "" }),
		"bad channel":    with(ok, func(m *Message) { m.Channel = "fax" }),
		"bad attachment": with(ok, func(m *Message) { m.Attachments = []Attachment{{Name: "a", ContentType: "///"}} }),
		"huge attachment": with(ok, func(m *Message) {
			m.Attachments = []Attachment{{"a", "application/pdf", make([]byte, MaxAttachmentBytes+1)}}
		}),
		"bad phone":     with(sms, func(m *Message) { m.To = "081234" }),
		"sms with html": with(sms, func(m *Message) { m.HTML = "<p>" }),
	} {
		err := db.Update(func(tx *bolt.Tx) error { _, err := Enqueue(tx, m); return err })
		if !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestPurgeKeepsPending(t *testing.T) {
	db := openDB(t, "")
	sent := make(signalSender, 1)
	d := newDispatcher(t, DispatcherConfig{DB: db, SMS: sent, Email: failSender{errors.New("down")}})
	sms := Message{Channel: ChannelSMS, To: "+6281234567890", Text: "x"}
	email := Message{Channel: ChannelEmail, To: "budi@example.test", Subject: "S", Text: "T"}
	enqueue(t, db, sms, email)
	runOnce(t, d, 1)
	var n int
	err := db.Update(func(tx *bolt.Tx) (err error) { n, err = Purge(tx, time.Now().Add(time.Hour)); return err })
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	if r := getRecord(t, db, 2); r.Status != StatusPending {
		t.Fatalf("%+v", r)
	}
	err = db.View(func(tx *bolt.Tx) error { _, err := Get(tx, 1); return err })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("sent record survived: %v", err)
	}
}
