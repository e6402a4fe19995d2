package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	"github.com/psre/appliance/store"
)

func newKEK(t *testing.T, tok *hsm.Token, label string) *hsm.KEK {
	t.Helper()
	ctx := context.Background()
	uri, err := tok.GenerateSecretKey(ctx, label)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := tok.KEK(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

// TestEnvelopesAtRest seals personal data under the HSM KEK, stores it,
// and checks that the file holds no clear text and that an envelope opens
// only for its own record and key.
func TestEnvelopesAtRest(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	kek, other := newKEK(t, tok, "kek"), newKEK(t, tok, "other-kek")
	path := filepath.Join(t.TempDir(), "appliance.db")
	db, err := store.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nik := []byte("3171234567890123")
	photo := bytes.Repeat([]byte("KTP-PHOTO-BYTES."), 4096)
	aad := []byte("applicant/42/nik")
	e, err := store.Seal(kek, rand.Reader, nik, aad)
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.Seal(kek, rand.Reader, photo, []byte("applicant/42/ktp"))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := store.PutBlob(tx, "applicant/42/nik", e); err != nil {
			return err
		}
		return store.PutBlob(tx, "applicant/42/ktp", p)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Blob("applicant/42/nik")
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := got.Open(kek, aad); err != nil || !bytes.Equal(plain, nik) {
		t.Fatalf("open: %q, %v", plain, err)
	}
	if _, err := got.Open(kek, []byte("applicant/43/nik")); !errors.Is(err, store.ErrOpen) {
		t.Fatalf("opened for another record: %v", err)
	}
	if _, err := got.Open(other, aad); !errors.Is(err, store.ErrOpen) {
		t.Fatalf("opened under another KEK: %v", err)
	}
	tampered := got
	tampered.Ciphertext = append([]byte(nil), got.Ciphertext...)
	tampered.Ciphertext[0] ^= 1
	if _, err := tampered.Open(kek, aad); !errors.Is(err, store.ErrOpen) {
		t.Fatalf("tampered envelope opened: %v", err)
	}
	db.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, nik) || bytes.Contains(raw, []byte("KTP-PHOTO-BYTES")) {
		t.Fatal("the database file holds personal data in clear")
	}
}

// TestIndexKey: the keyed-hash key is made once, stored wrapped, the same
// after reopening, and useless without the KEK.
func TestIndexKey(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	kek, other := newKEK(t, tok, "kek"), newKEK(t, tok, "other-kek")
	path := filepath.Join(t.TempDir(), "appliance.db")
	db, err := store.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := db.IndexKey(kek, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := ix.Hash("nik", "3171234567890123")
	if bytes.Equal(h, ix.Hash("phone", "3171234567890123")) {
		t.Fatal("hashes of different kinds collide")
	}
	db.Close()
	db, err = store.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	again, err := db.IndexKey(kek, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Hash("nik", "3171234567890123"), h) {
		t.Fatal("the index key changed across a reopen")
	}
	if _, err := db.IndexKey(other, rand.Reader); !errors.Is(err, store.ErrOpen) {
		t.Fatalf("another KEK unwrapped the index key: %v", err)
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("3171234567890123")) {
		t.Fatal("NIK in clear in the file")
	}
}
