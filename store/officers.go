package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketOfficers = []byte("officers")

// Officer roles and statuses.
const (
	RoleCS      = "cs"
	RoleRA      = "ra"
	RoleAuditor = "auditor"

	OfficerActive   = "active"
	OfficerDisabled = "disabled"
)

// ErrOfficerExists means an officer of that name is already recorded.
var ErrOfficerExists = errors.New("an officer of that name already exists")

// Officer is a console user. It is keyed by the SHA-256 fingerprint of its
// client certificate (hex): the console looks the officer up by the
// certificate the TLS handshake verified. EmailHash and NIKHash are keyed
// hashes (see Indexer), so segregation of duties can compare them with an
// applicant's without storing them in clear.
type Officer struct {
	Fingerprint string    `json:"fingerprint"`
	Name        string    `json:"name"`
	Role        string    `json:"role"`
	Status      string    `json:"status"`
	Serial      string    `json:"serial"` // of the certificate, hex
	EmailHash   []byte    `json:"email_hash,omitempty"`
	NIKHash     []byte    `json:"nik_hash,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// ValidRole reports whether r is an officer role.
func ValidRole(r string) bool { return r == RoleCS || r == RoleRA || r == RoleAuditor }

// AddOfficer records o inside tx. Names are unique among officers.
func AddOfficer(tx *bolt.Tx, o Officer) error {
	if o.Fingerprint == "" || o.Name == "" || !ValidRole(o.Role) {
		return fmt.Errorf("officer record needs a fingerprint, a name and a role of cs, ra or auditor")
	}
	b := tx.Bucket(bucketOfficers)
	if b.Get([]byte(o.Fingerprint)) != nil {
		return fmt.Errorf("officer certificate %s: %w", o.Fingerprint, ErrOfficerExists)
	}
	if _, err := OfficerByName(tx, o.Name); err == nil {
		return fmt.Errorf("officer %q: %w", o.Name, ErrOfficerExists)
	}
	return putJSON(b, o.Fingerprint, o)
}

// PutOfficer rewrites an existing officer inside tx.
func PutOfficer(tx *bolt.Tx, o Officer) error {
	if tx.Bucket(bucketOfficers).Get([]byte(o.Fingerprint)) == nil {
		return fmt.Errorf("officer %s: %w", o.Fingerprint, ErrNotFound)
	}
	return putJSON(tx.Bucket(bucketOfficers), o.Fingerprint, o)
}

// GetOfficer reads the officer of certificate fingerprint fp.
func GetOfficer(tx *bolt.Tx, fp string) (Officer, error) {
	var o Officer
	raw := tx.Bucket(bucketOfficers).Get([]byte(fp))
	if raw == nil {
		return o, fmt.Errorf("officer %s: %w", fp, ErrNotFound)
	}
	return o, json.Unmarshal(raw, &o)
}

// OfficerByName finds an officer by name (the newest if a name was reused
// after a certificate renewal is ever supported).
func OfficerByName(tx *bolt.Tx, name string) (Officer, error) {
	var found Officer
	err := tx.Bucket(bucketOfficers).ForEach(func(_, v []byte) error {
		var o Officer
		if err := json.Unmarshal(v, &o); err != nil {
			return err
		}
		if o.Name == name && (found.Name == "" || o.Created.After(found.Created)) {
			found = o
		}
		return nil
	})
	if err != nil {
		return found, err
	}
	if found.Name == "" {
		return found, fmt.Errorf("officer %q: %w", name, ErrNotFound)
	}
	return found, nil
}

// Officers lists every officer by name.
func Officers(tx *bolt.Tx) ([]Officer, error) {
	var list []Officer
	err := tx.Bucket(bucketOfficers).ForEach(func(_, v []byte) error {
		var o Officer
		if err := json.Unmarshal(v, &o); err != nil {
			return err
		}
		list = append(list, o)
		return nil
	})
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, err
}

// SameHash compares two keyed hashes; empty never matches.
func SameHash(a, b []byte) bool { return len(a) > 0 && bytes.Equal(a, b) }
