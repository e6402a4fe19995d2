package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestCompleteIntent: the pre-encoded completion stores the certificate
// when the stored record is the intent, and otherwise gives
// CompleteIssuance's answers.
func TestCompleteIntent(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "a.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	intent := func(serial string) CertRecord {
		return CertRecord{Serial: serial, CA: "issuing", Profile: "officer", Requester: "t", TBSHash: []byte{1, 2},
			NotAfter: created.AddDate(1, 0, 0), Created: created}
	}
	at := created.Add(time.Second)

	// The usual path: the stored record is the intent, byte for byte.
	if err := db.RecordIntent(intent("a1")); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteIntent(intent("a1"), []byte{0x30, 1}, at); err != nil {
		t.Fatal(err)
	}
	r, err := db.Certificate("a1")
	if err != nil || r.State != StateIssued || r.Status != StatusGood || string(r.DER) != "\x30\x01" || !r.IssuedAt.Equal(at) || r.Requester != "t" {
		t.Fatalf("record %+v, %v", r, err)
	}
	// Completing again finds an issued record.
	if err := db.CompleteIntent(intent("a1"), []byte{0x30, 2}, at); !errors.Is(err, ErrWrongState) {
		t.Fatalf("second completion: %v", err)
	}
	// No intent at all.
	if err := db.CompleteIntent(intent("a2"), []byte{0x30}, at); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no intent: %v", err)
	}
	// A different TBS hash.
	if err := db.RecordIntent(intent("a3")); err != nil {
		t.Fatal(err)
	}
	other := intent("a3")
	other.TBSHash = []byte{9}
	if err := db.CompleteIntent(other, []byte{0x30}, at); !errors.Is(err, ErrWrongState) {
		t.Fatalf("other TBS: %v", err)
	}
	// An abandoned intent.
	if err := db.AbandonIntent("a3", "test"); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteIntent(intent("a3"), []byte{0x30}, at); !errors.Is(err, ErrWrongState) {
		t.Fatalf("abandoned: %v", err)
	}
	// The stored intent encodes differently (another requester field) but
	// has the same TBS hash: CompleteIssuance's rule applies, and the stored
	// record's fields are kept.
	if err := db.RecordIntent(intent("a4")); err != nil {
		t.Fatal(err)
	}
	differs := intent("a4")
	differs.Requester = "someone else"
	if err := db.CompleteIntent(differs, []byte{0x30, 4}, at); err != nil {
		t.Fatal(err)
	}
	if r, err := db.Certificate("a4"); err != nil || r.State != StateIssued || r.Requester != "t" || string(r.DER) != "\x30\x04" {
		t.Fatalf("record %+v, %v", r, err)
	}
}
