package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketOCSP = []byte("ocsp")

// ocspRecord is one pre-signed OCSP response, keyed "ca/serial".
type ocspRecord struct {
	DER        []byte    `json:"der"`
	Revoked    bool      `json:"revoked,omitempty"` // the response says revoked
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
}

func ocspKey(ca, serial string) ([]byte, error) {
	if ca == "" || serial == "" || strings.Contains(ca, "/") {
		return nil, fmt.Errorf("OCSP cache key %q/%q: need a CA name without '/' and a serial", ca, serial)
	}
	return []byte(ca + "/" + serial), nil
}

// GetOCSP returns the cached OCSP response of serial (as the responder
// names it: lower-case hex, perhaps with a suffix) under CA ca. ok is false
// when there is none, or when it is not a revoked response but the
// certificate is revoked.
func (db *DB) GetOCSP(ca, serial string) (der []byte, nextUpdate time.Time, ok bool, err error) {
	key, err := ocspKey(ca, serial)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	var r ocspRecord
	err = db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketOCSP).Get(key)
		if raw == nil {
			return nil
		}
		if err := json.Unmarshal(raw, &r); err != nil { // copies out of the mmap
			return err
		}
		ok = r.Revoked || !certRevoked(tx, serial)
		return nil
	})
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("decode OCSP response %s: %w", key, err)
	}
	if !ok {
		return nil, time.Time{}, false, nil
	}
	return r.DER, r.NextUpdate, true, nil
}

// PutOCSP stores a signed OCSP response for ca/serial; revoked says what it
// answers. A response never replaces one with a later thisUpdate (so a slow
// writer cannot put an older status back), and a response that is not
// "revoked" is not stored for a certificate the store knows as revoked (a
// revocation that committed while it was being signed). Concurrent calls
// share one commit (db.Batch).
func (db *DB) PutOCSP(ca, serial string, der []byte, revoked bool, thisUpdate, nextUpdate time.Time) error {
	key, err := ocspKey(ca, serial)
	if err != nil {
		return err
	}
	if len(der) == 0 || !nextUpdate.After(thisUpdate) {
		return errors.New("OCSP response to store: empty, or nextUpdate not after thisUpdate")
	}
	raw, err := json.Marshal(ocspRecord{DER: der, Revoked: revoked, ThisUpdate: thisUpdate.UTC(), NextUpdate: nextUpdate.UTC()})
	if err != nil {
		return err
	}
	return db.Batch(func(tx *bolt.Tx) error {
		if !revoked && certRevoked(tx, serial) {
			return nil
		}
		b := tx.Bucket(bucketOCSP)
		if old := b.Get(key); old != nil {
			var prev ocspRecord
			if json.Unmarshal(old, &prev) == nil && prev.ThisUpdate.After(thisUpdate) {
				return nil
			}
		}
		return b.Put(key, raw)
	})
}

// DeleteOCSP drops every cached response of the certificate: ca/serial and
// its variants ca/serial/... (the responder keeps SHA-256 CertIDs under
// ca/serial/sha256).
func (db *DB) DeleteOCSP(ca, serial string) error {
	key, err := ocspKey(ca, serial)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error { return deleteOCSP(tx, key) })
}

func deleteOCSP(tx *bolt.Tx, key []byte) error {
	b := tx.Bucket(bucketOCSP)
	if err := b.Delete(key); err != nil {
		return err
	}
	prefix := append(append([]byte(nil), key...), '/')
	var variants [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		variants = append(variants, append([]byte(nil), k...))
	}
	for _, k := range variants {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// certRevoked reports whether the certificate of an OCSP cache serial
// ("hex" or "hex/variant") is recorded as revoked.
func certRevoked(tx *bolt.Tx, serial string) bool {
	base, _, _ := strings.Cut(serial, "/")
	r, err := getCert(tx.Bucket(bucketCertificates), base)
	return err == nil && r.Status == StatusRevoked
}
