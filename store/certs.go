package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Certificate record states. A record is written as an intent before the
// HSM signs and becomes issued, in the same record, once the signed
// certificate is stored. An intent that never got its certificate is
// reconciled at start-up into abandoned (with the reason), never dropped.
const (
	StateIntent    = "intent"
	StateIssued    = "issued"
	StateAbandoned = "abandoned"
)

// Certificate statuses of an issued certificate.
const (
	StatusGood    = "good"
	StatusRevoked = "revoked"
)

var bucketCertificates = []byte("certificates")

// Errors callers branch on.
var (
	ErrNotFound           = errors.New("no such certificate")
	ErrSerialExists       = errors.New("serial already used")
	ErrWrongState         = errors.New("certificate record is not in the expected state")
	ErrRevokedDifferently = errors.New("certificate already revoked with a different reason or date")
)

// CertRecord is one certificate, from intent to revocation.
type CertRecord struct {
	Serial    string    `json:"serial"` // lower-case hex, no leading zeros
	CA        string    `json:"ca"`     // issuing CA name: root, issuing, admin
	Profile   string    `json:"profile"`
	Requester string    `json:"requester"`
	State     string    `json:"state"`
	TBSHash   []byte    `json:"tbs_sha256"`
	DER       []byte    `json:"der,omitempty"`
	NotAfter  time.Time `json:"not_after"`
	Created   time.Time `json:"created"`
	IssuedAt  time.Time `json:"issued_at,omitzero"`
	Note      string    `json:"note,omitempty"` // why an intent was abandoned

	Status         string    `json:"status,omitempty"`
	RevokedAt      time.Time `json:"revoked_at,omitzero"`
	Reason         int       `json:"reason,omitempty"`
	InvalidityDate time.Time `json:"invalidity_date,omitzero"`
	RevokedBy      string    `json:"revoked_by,omitempty"`
}

func serialKey(serial string) []byte { return []byte(serial) }

func getCert(b *bolt.Bucket, serial string) (CertRecord, error) {
	raw := b.Get(serialKey(serial))
	if raw == nil {
		return CertRecord{}, fmt.Errorf("serial %s: %w", serial, ErrNotFound)
	}
	var r CertRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return CertRecord{}, fmt.Errorf("decode certificate record %s: %w", serial, err)
	}
	return r, nil
}

func putCert(b *bolt.Bucket, r CertRecord) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode certificate record %s: %w", r.Serial, err)
	}
	return b.Put(serialKey(r.Serial), raw)
}

// RecordIntent durably records that the HSM is about to sign a certificate
// with r's serial and TBS hash. It fails with ErrSerialExists if the serial
// was ever used. Concurrent calls share commits (see groupCommitter); the
// record is encoded before, so the shared commit only looks up and puts.
func (db *DB) RecordIntent(r CertRecord) error {
	r.State = StateIntent
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode certificate record %s: %w", r.Serial, err)
	}
	key := serialKey(r.Serial)
	return db.group.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCertificates)
		if b.Get(key) != nil {
			return fmt.Errorf("serial %s: %w", r.Serial, ErrSerialExists)
		}
		return b.Put(key, raw)
	})
}

// CompleteIssuance stores the signed certificate in its intent record and
// marks it issued with status good. The record must be an intent with the
// same TBS hash.
func (db *DB) CompleteIssuance(serial string, tbsHash, der []byte, at time.Time) error {
	return db.group.update(func(tx *bolt.Tx) error {
		return completeIssuance(tx.Bucket(bucketCertificates), serial, tbsHash, der, at)
	})
}

func completeIssuance(b *bolt.Bucket, serial string, tbsHash, der []byte, at time.Time) error {
	r, err := getCert(b, serial)
	if err != nil {
		return err
	}
	if r.State != StateIntent || !bytes.Equal(r.TBSHash, tbsHash) {
		return fmt.Errorf("complete issuance of %s (state %s): %w", serial, r.State, ErrWrongState)
	}
	r.State, r.Status, r.DER, r.IssuedAt = StateIssued, StatusGood, der, at.UTC()
	return putCert(b, r)
}

// CompleteIntent is CompleteIssuance for the caller that holds the record
// it passed to RecordIntent. Both the intent and the issued record are
// encoded before the shared commit, which only checks that the stored
// record is that intent, byte for byte, and puts the issued one; a stored
// record that differs in any way goes through CompleteIssuance's checks.
// This keeps JSON work out of the commit that concurrent issuances wait
// for.
func (db *DB) CompleteIntent(intent CertRecord, der []byte, at time.Time) error {
	intent.State = StateIntent
	want, err := json.Marshal(intent)
	if err != nil {
		return fmt.Errorf("encode certificate record %s: %w", intent.Serial, err)
	}
	issued := intent
	issued.State, issued.Status, issued.DER, issued.IssuedAt = StateIssued, StatusGood, der, at.UTC()
	raw, err := json.Marshal(issued)
	if err != nil {
		return fmt.Errorf("encode certificate record %s: %w", intent.Serial, err)
	}
	key := serialKey(intent.Serial)
	return db.group.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCertificates)
		if cur := b.Get(key); cur != nil && bytes.Equal(cur, want) {
			return b.Put(key, raw)
		}
		return completeIssuance(b, intent.Serial, intent.TBSHash, der, at)
	})
}

// AbandonIntent closes an intent whose certificate was never stored, with
// the reason. It is kept for the audit trail; its serial is never reused.
func (db *DB) AbandonIntent(serial, note string) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCertificates)
		r, err := getCert(b, serial)
		if err != nil {
			return err
		}
		if r.State != StateIntent {
			return fmt.Errorf("abandon %s (state %s): %w", serial, r.State, ErrWrongState)
		}
		r.State, r.Note = StateAbandoned, note
		return putCert(b, r)
	})
}

// Certificate returns the record of serial.
func (db *DB) Certificate(serial string) (CertRecord, error) {
	var r CertRecord
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getCert(tx.Bucket(bucketCertificates), serial)
		return err
	})
	return r, err
}

// Intents returns the records still in state intent.
func (db *DB) Intents() ([]CertRecord, error) {
	var out []CertRecord
	err := db.ForEachCertificate(func(r CertRecord) error {
		if r.State == StateIntent {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// ForEachCertificate calls fn for every record in serial order.
func (db *DB) ForEachCertificate(fn func(CertRecord) error) error {
	return db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCertificates).ForEach(func(k, v []byte) error {
			var r CertRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode certificate record %s: %w", k, err)
			}
			return fn(r)
		})
	})
}

// Revocation is what Revoke records.
type Revocation struct {
	Reason         int
	InvalidityDate time.Time // zero: none
	Actor          string
	At             time.Time
}

// Revoke marks an issued certificate revoked and drops its pre-signed OCSP
// responses in the same transaction. Revoking again with the same reason
// and invalidity date is accepted and changes nothing (changed is false and
// the stored record is returned); a different story fails with
// ErrRevokedDifferently.
func (db *DB) Revoke(serial string, rv Revocation) (CertRecord, bool, error) {
	var out CertRecord
	changed := false
	err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCertificates)
		r, err := getCert(b, serial)
		if err != nil {
			return err
		}
		if r.State != StateIssued {
			return fmt.Errorf("revoke %s (state %s): %w", serial, r.State, ErrWrongState)
		}
		if r.Status == StatusRevoked {
			if r.Reason == rv.Reason && r.InvalidityDate.Equal(rv.InvalidityDate.UTC()) {
				out = r
				return nil
			}
			return fmt.Errorf("revoke %s: revoked on %s with reason %d: %w", serial, r.RevokedAt.Format(time.RFC3339), r.Reason, ErrRevokedDifferently)
		}
		r.Status, r.Reason, r.InvalidityDate, r.RevokedBy, r.RevokedAt = StatusRevoked, rv.Reason, rv.InvalidityDate.UTC(), rv.Actor, rv.At.UTC()
		out, changed = r, true
		if err := putCert(b, r); err != nil {
			return err
		}
		// The pre-signed "good" OCSP responses go in the same transaction:
		// a crash before the responder re-signs must not leave them served.
		key, err := ocspKey(r.CA, r.Serial)
		if err != nil {
			return err
		}
		return deleteOCSP(tx, key)
	})
	if err != nil {
		return CertRecord{}, false, err
	}
	return out, changed, nil
}
