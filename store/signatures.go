package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketSignatures = []byte("signatures")

// Signature states: an intent is recorded before the HSM signs, so no
// signature is ever made unrecorded.
const (
	SignaturePending = "pending"
	SignatureDone    = "signed"
	SignatureFailed  = "failed" // the HSM or the TSA failed: nothing was handed out
)

// Signature is one document signature made with a subscriber's key.
type Signature struct {
	ID              string    `json:"id"` // subscriber/sequence
	Subscriber      string    `json:"subscriber"`
	DocumentHash    string    `json:"document_sha256"` // of the PDF as uploaded
	DocumentName    string    `json:"document_name"`
	SignedHash      string    `json:"signed_sha256,omitempty"` // of the signed PDF
	CertSerial      string    `json:"cert_serial"`
	TimestampSerial string    `json:"timestamp_serial,omitempty"`
	State           string    `json:"state"`
	Created         time.Time `json:"created"`
	Signed          time.Time `json:"signed,omitzero"`
}

func signatureKey(subscriber string, seq uint64) string {
	return fmt.Sprintf("%s/%016x", subscriber, seq)
}

// AddSignature records a pending signature inside tx and returns it with
// its id.
func AddSignature(tx *bolt.Tx, s Signature) (Signature, error) {
	b, err := tx.CreateBucketIfNotExists(bucketSignatures)
	if err != nil {
		return s, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return s, err
	}
	s.ID = signatureKey(s.Subscriber, seq)
	return s, putJSON(b, s.ID, s)
}

// CompleteSignature marks signature id signed.
func CompleteSignature(tx *bolt.Tx, id, signedHash, timestampSerial string, at time.Time) (Signature, error) {
	var s Signature
	b := tx.Bucket(bucketSignatures)
	if b == nil || b.Get([]byte(id)) == nil {
		return s, fmt.Errorf("signature %s: %w", id, ErrNotFound)
	}
	if err := json.Unmarshal(b.Get([]byte(id)), &s); err != nil {
		return s, err
	}
	if s.State != SignaturePending {
		return s, fmt.Errorf("signature %s is %s: %w", id, s.State, ErrWrongState)
	}
	s.State, s.SignedHash, s.TimestampSerial, s.Signed = SignatureDone, signedHash, timestampSerial, at
	return s, putJSON(b, id, s)
}

// FailSignature marks a pending signature failed.
func FailSignature(tx *bolt.Tx, id string) error {
	var s Signature
	b := tx.Bucket(bucketSignatures)
	if b == nil || b.Get([]byte(id)) == nil {
		return fmt.Errorf("signature %s: %w", id, ErrNotFound)
	}
	if err := json.Unmarshal(b.Get([]byte(id)), &s); err != nil {
		return err
	}
	if s.State != SignaturePending {
		return fmt.Errorf("signature %s is %s: %w", id, s.State, ErrWrongState)
	}
	s.State = SignatureFailed
	return putJSON(b, id, s)
}

// SignaturesOf lists a subscriber's signatures, newest first.
func SignaturesOf(tx *bolt.Tx, subscriber string) ([]Signature, error) {
	b := tx.Bucket(bucketSignatures)
	if b == nil {
		return nil, nil
	}
	prefix := []byte(subscriber + "/")
	var list []Signature
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var s Signature
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		list = append([]Signature{s}, list...)
	}
	return list, nil
}
