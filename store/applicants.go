package store

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketApplicants   = []byte("applicants")
	bucketApplications = []byte("applications")
	bucketIndex        = []byte("index")
)

// Applicant is a registered person. Personal data (NIK, birth date, photos,
// signature specimen) is not here: it is in sealed blobs named in Blobs.
// Email and phone are indexed only by keyed hash.
type Applicant struct {
	ID             string            `json:"id"`
	Username       string            `json:"username"`
	Name           string            `json:"name"`
	Email          string            `json:"email"`
	Phone          string            `json:"phone"` // E.164
	PasswordHash   string            `json:"password_hash"`
	Blobs          map[string]string `json:"blobs"` // kind -> blob id
	ConsentVersion string            `json:"consent_version"`
	Created        time.Time         `json:"created"`
}

// Application is an applicant's request for a certificate, moving through
// the states of DESIGN.md.
type Application struct {
	ID          string       `json:"id"`
	ApplicantID string       `json:"applicant_id"`
	State       string       `json:"state"`
	Updated     time.Time    `json:"updated"`
	History     []Transition `json:"history"`
}

// Transition is one state change of an application.
type Transition struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// TakenError says which unique field is already registered, never by whom.
type TakenError struct{ Field string }

func (e *TakenError) Error() string { return e.Field + " is already registered" }

// UniqueKeys are the index entries an applicant claims: the username in
// clear, the others as keyed hashes (see Indexer).
type UniqueKeys struct {
	Username                      string
	EmailHash, PhoneHash, NIKHash []byte
}

func (u UniqueKeys) entries() [][2]string {
	return [][2]string{
		{"username", "username:" + u.Username},
		{"email", "email:" + hex.EncodeToString(u.EmailHash)},
		{"phone", "phone:" + hex.EncodeToString(u.PhoneHash)},
		{"nik", "nik:" + hex.EncodeToString(u.NIKHash)},
	}
}

// CreateApplicant stores a new applicant, its first application, its
// sealed personal data and its unique index entries in one transaction.
// If any unique key is taken it fails with a *TakenError and stores
// nothing. Concurrent registrations share commits (see groupCommitter):
// every check comes before the first write.
func (db *DB) CreateApplicant(a Applicant, keys UniqueKeys, app Application, blobs map[string]Envelope) error {
	return db.group.update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketIndex)
		for _, e := range keys.entries() {
			if idx.Get([]byte(e[1])) != nil {
				return &TakenError{Field: e[0]}
			}
		}
		if tx.Bucket(bucketApplicants).Get([]byte(a.ID)) != nil {
			return fmt.Errorf("applicant id %s: %w", a.ID, ErrSerialExists)
		}
		for kind, e := range blobs {
			if a.Blobs[kind] == "" {
				return fmt.Errorf("blob %q has no id in the applicant record", kind)
			}
			if err := PutBlob(tx, a.Blobs[kind], e); err != nil {
				return err
			}
		}
		for _, e := range keys.entries() {
			if err := idx.Put([]byte(e[1]), []byte(a.ID)); err != nil {
				return err
			}
		}
		if err := putJSON(tx.Bucket(bucketApplicants), a.ID, a); err != nil {
			return err
		}
		// One application per applicant (DESIGN.md): keyed by the applicant.
		return putJSON(tx.Bucket(bucketApplications), a.ID, app)
	})
}

// ApplicantByIndex finds the applicant that claimed an index entry:
// kind "username" with the username, or "email" with its keyed hash.
func (db *DB) ApplicantByIndex(kind string, value []byte) (Applicant, error) {
	key := kind + ":" + string(value)
	if kind != "username" {
		key = kind + ":" + hex.EncodeToString(value)
	}
	var a Applicant
	err := db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketIndex).Get([]byte(key))
		if id == nil {
			return ErrNotFound
		}
		raw := tx.Bucket(bucketApplicants).Get(id)
		if raw == nil {
			return fmt.Errorf("index %s points at a missing applicant: %w", kind, ErrNotFound)
		}
		return json.Unmarshal(raw, &a)
	})
	return a, err
}

// ApplicationOf returns the application of applicant id.
func (db *DB) ApplicationOf(applicantID string) (Application, error) {
	var app Application
	err := db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketApplications).Get([]byte(applicantID))
		if raw == nil {
			return fmt.Errorf("application of %s: %w", applicantID, ErrNotFound)
		}
		return json.Unmarshal(raw, &app)
	})
	return app, err
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}
