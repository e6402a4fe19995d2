package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Wrapper wraps and unwraps data keys: the key-encryption key in the HSM
// (hsm.KEK). Keys wrapped by it never leave it in clear.
type Wrapper interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Envelope is personal data at rest: AES-256-GCM ciphertext under a data
// key of its own, the data key wrapped by the HSM KEK. Both are bound to
// the same additional data (the record the data belongs to), so an
// envelope moved to another record does not open.
type Envelope struct {
	WrappedKey []byte `json:"wrapped_key"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// ErrOpen means an envelope does not open: tampered, moved to another
// record, or sealed under another KEK.
var ErrOpen = errors.New("sealed data does not open (tampered, moved, or another key)")

// Seal encrypts plaintext under a fresh data key drawn from random and
// wraps that key with w. aad names the record (e.g. "applicant/ID/ktp").
func Seal(w Wrapper, random io.Reader, plaintext, aad []byte) (Envelope, error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(random, key); err != nil {
		return Envelope{}, fmt.Errorf("draw data key: %w", err)
	}
	defer clear(key)
	gcm, err := newGCM(key)
	if err != nil {
		return Envelope{}, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := io.ReadFull(random, nonce); err != nil {
		return Envelope{}, fmt.Errorf("draw nonce: %w", err)
	}
	wrapped, err := w.Seal(key, aad)
	if err != nil {
		return Envelope{}, fmt.Errorf("wrap data key: %w", err)
	}
	return Envelope{WrappedKey: wrapped, Nonce: nonce, Ciphertext: gcm.Seal(nil, nonce, plaintext, aad)}, nil
}

// Open unwraps the data key with w and decrypts.
func (e Envelope) Open(w Wrapper, aad []byte) ([]byte, error) {
	key, err := w.Open(e.WrappedKey, aad)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w: %w", ErrOpen, err)
	}
	defer clear(key)
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(e.Nonce) != gcm.NonceSize() {
		return nil, fmt.Errorf("nonce of %d bytes: %w", len(e.Nonce), ErrOpen)
	}
	out, err := gcm.Open(nil, e.Nonce, e.Ciphertext, aad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	return cipher.NewGCM(block)
}

var bucketBlobs = []byte("blobs")

// PutBlob stores an envelope under id inside the caller's transaction, so
// that personal data and the record that owns it commit together.
func PutBlob(tx *bolt.Tx, id string, e Envelope) error {
	if id == "" {
		return errors.New("blob id is empty")
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketBlobs).Put([]byte(id), raw)
}

// Blob reads the envelope stored under id.
func (db *DB) Blob(id string) (Envelope, error) {
	var e Envelope
	err := db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketBlobs).Get([]byte(id))
		if raw == nil {
			return fmt.Errorf("blob %s: %w", id, ErrNotFound)
		}
		return json.Unmarshal(raw, &e)
	})
	return e, err
}

var keyIndexKey = []byte("index_key")

// indexKeyAAD binds the wrapped index key to its purpose.
var indexKeyAAD = []byte("appliance/index-key/v1")

// IndexKey returns the key of the keyed hashes that index personal data
// (NIK uniqueness without storing the NIK as a key). It is created on first
// use, stored only wrapped by w, and unwrapped into memory.
func (db *DB) IndexKey(w Wrapper, random io.Reader) (*Indexer, error) {
	var wrapped []byte
	err := db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyIndexKey); v != nil {
			wrapped = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if wrapped == nil {
		key := make([]byte, 32)
		if _, err := io.ReadFull(random, key); err != nil {
			return nil, fmt.Errorf("draw index key: %w", err)
		}
		w1, err := w.Seal(key, indexKeyAAD)
		clear(key)
		if err != nil {
			return nil, fmt.Errorf("wrap index key: %w", err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMeta)
			if v := b.Get(keyIndexKey); v != nil { // another process won the race
				wrapped = append([]byte(nil), v...)
				return nil
			}
			wrapped = w1
			return b.Put(keyIndexKey, w1)
		})
		if err != nil {
			return nil, err
		}
	}
	key, err := w.Open(wrapped, indexKeyAAD)
	if err != nil {
		return nil, fmt.Errorf("unwrap index key: %w: %w", ErrOpen, err)
	}
	return &Indexer{key: key}, nil
}

// Indexer computes keyed hashes of personal data for unique indexes.
type Indexer struct{ key []byte }

// Hash is HMAC-SHA256 of value under the index key, in the namespace kind
// (e.g. "nik"), so equal values of different kinds never collide.
func (ix *Indexer) Hash(kind, value string) []byte {
	m := hmac.New(sha256.New, ix.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}

// GetBlob reads the envelope stored under id inside tx.
func GetBlob(tx *bolt.Tx, id string) (Envelope, error) {
	var e Envelope
	raw := tx.Bucket(bucketBlobs).Get([]byte(id))
	if raw == nil {
		return e, fmt.Errorf("blob %s: %w", id, ErrNotFound)
	}
	return e, json.Unmarshal(raw, &e)
}
