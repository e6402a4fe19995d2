package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketCRLs = []byte("crls")

// ErrCRLNumber means a CRL was stored out of sequence.
var ErrCRLNumber = errors.New("CRL number is not the next in sequence")

// CRLRecord is the latest CRL of one CA.
type CRLRecord struct {
	CA         string    `json:"ca"`
	Number     int64     `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	DER        []byte    `json:"der"`
}

// LatestCRL returns the CA's latest CRL; ErrNotFound if it has none.
func (db *DB) LatestCRL(ca string) (CRLRecord, error) {
	var r CRLRecord
	err := db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketCRLs).Get([]byte(ca))
		if raw == nil {
			return fmt.Errorf("CRL of %s: %w", ca, ErrNotFound)
		}
		return json.Unmarshal(raw, &r)
	})
	return r, err
}

// PutCRL stores r as the CA's latest CRL if its number is exactly one more
// than the stored one (or the first), so cRLNumber only ever grows.
func (db *DB) PutCRL(r CRLRecord) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCRLs)
		var prev int64
		if raw := b.Get([]byte(r.CA)); raw != nil {
			var old CRLRecord
			if err := json.Unmarshal(raw, &old); err != nil {
				return fmt.Errorf("decode CRL record of %s: %w", r.CA, err)
			}
			prev = old.Number
		}
		if r.Number != prev+1 {
			return fmt.Errorf("CRL %d of %s after %d: %w", r.Number, r.CA, prev, ErrCRLNumber)
		}
		raw, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return b.Put([]byte(r.CA), raw)
	})
}
