package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// TestEntriesRefused: personal data and malformed entries are refused
// before anything is written.
func TestEntriesRefused(t *testing.T) {
	long := strings.Repeat("a", MaxDetailValue+1)
	many := map[string]string{}
	for i := 0; i <= MaxDetails; i++ {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		e    Entry
		want error
	}{
		{"nik", Entry{Actor: "a", Action: "b", Details: map[string]string{"nik": "3171234567890123"}}, ErrPersonalData},
		{"applicant name", Entry{Actor: "a", Action: "b", Details: map[string]string{"applicant_name": "Budi"}}, ErrPersonalData},
		{"nama", Entry{Actor: "a", Action: "b", Details: map[string]string{"nama_lengkap": "Budi"}}, ErrPersonalData},
		{"email", Entry{Actor: "a", Action: "b", Details: map[string]string{"email": "b@example.id"}}, ErrPersonalData},
		{"phone", Entry{Actor: "a", Action: "b", Details: map[string]string{"phone_number": "0812"}}, ErrPersonalData},
		{"birth date", Entry{Actor: "a", Action: "b", Details: map[string]string{"birth_date": "1990-01-01"}}, ErrPersonalData},
		{"tanggal lahir", Entry{Actor: "a", Action: "b", Details: map[string]string{"tgl_lahir": "1990-01-01"}}, ErrPersonalData},
		{"ktp photo", Entry{Actor: "a", Action: "b", Details: map[string]string{"ktp.image": "..."}}, ErrPersonalData},
		{"photo", Entry{Actor: "a", Action: "b", Details: map[string]string{"photo": "..."}}, ErrPersonalData},
		{"selfie", Entry{Actor: "a", Action: "b", Details: map[string]string{"selfie_sha256": "..."}}, ErrPersonalData},
		{"specimen", Entry{Actor: "a", Action: "b", Details: map[string]string{"signature_specimen": "..."}}, ErrPersonalData},
		{"password", Entry{Actor: "a", Action: "b", Details: map[string]string{"password": "x"}}, ErrPersonalData},
		{"email otp", Entry{Actor: "a", Action: "b", Details: map[string]string{"email-otp": "123456"}}, ErrPersonalData},
		{"otp", Entry{Actor: "a", Action: "b", Details: map[string]string{"otp": "123456"}}, ErrPersonalData},
		{"pin", Entry{Actor: "a", Action: "b", Details: map[string]string{"user_pin": "1234"}}, ErrPersonalData},
		{"no actor", Entry{Action: "b"}, ErrInvalidEntry},
		{"no action", Entry{Actor: "a"}, ErrInvalidEntry},
		{"long object", Entry{Actor: "a", Action: "b", Object: strings.Repeat("o", MaxField+1)}, ErrInvalidEntry},
		{"invalid UTF-8", Entry{Actor: "a\xff", Action: "b"}, ErrInvalidEntry},
		{"too many details", Entry{Actor: "a", Action: "b", Details: many}, ErrInvalidEntry},
		{"long value", Entry{Actor: "a", Action: "b", Details: map[string]string{"reason": long}}, ErrInvalidEntry},
		{"upper-case key", Entry{Actor: "a", Action: "b", Details: map[string]string{"Reason": "x"}}, ErrInvalidEntry},
		{"empty key", Entry{Actor: "a", Action: "b", Details: map[string]string{"": "x"}}, ErrInvalidEntry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			l := newLog(t, ecKey(t), 1)
			err := db.Update(func(tx *bolt.Tx) error { _, err := l.Append(tx, tc.e); return err })
			if !errors.Is(err, tc.want) {
				t.Errorf("Append: %v, want %v", err, tc.want)
			}
			if n := count(t, db, bucketRecords); n != 0 {
				t.Errorf("%d records written", n)
			}
		})
	}
	// Innocent keys that contain a short personal word inside another word.
	db := openDB(t)
	l := newLog(t, ecKey(t), 1)
	ok := Entry{Actor: "a", Action: "b", Details: map[string]string{"shipping": "x", "reason": "keyCompromise",
		"profile": "individual", "option": "y", "serial": "01ab", "state.from": "ra_review", "dobby": "z"}}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := l.Append(tx, ok); return err }); err != nil {
		t.Errorf("Append of innocent keys: %v", err)
	}
}

func TestAppendRefusesInconsistentHead(t *testing.T) {
	db := openDB(t)
	l := newLog(t, ecKey(t), 100)
	appendN(t, db, l, 5)
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketRecords).Delete(seqKey(5)) })
	err := db.Update(func(tx *bolt.Tx) error { _, err := l.Append(tx, entry(6)); return err })
	if !errors.Is(err, ErrInconsistent) {
		t.Errorf("Append on a truncated log: %v, want ErrInconsistent", err)
	}
	err = db.View(func(tx *bolt.Tx) error { _, err := l.Append(tx, entry(6)); return err })
	if err == nil {
		t.Error("Append in a read-only transaction succeeded")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, cfg := range map[string]Config{
		"no signer":    {},
		"ed25519 key":  {Signer: edKey},
		"negative":     {Signer: ecKey(t), Every: -1},
		"too long gap": {Signer: ecKey(t), Every: maxEvery + 1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Signer: ecKey(t), Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Signer: ecKey(t), Registerer: reg}); err == nil {
		t.Error("registering the metrics twice succeeded")
	}
}
