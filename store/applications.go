package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// Transaction-level access to applicants and applications, for the state
// machine that checks, changes, audits and notifies in one transaction.
//
// The index bucket also holds "state:<state>:<application id>" entries,
// kept by PutApplication, so that a queue is a prefix scan, and
// "dup:<kind>:<hex keyed hash>:<applicant id>" entries that point out
// applicants sharing a non-unique trait (the same name and birth date, the
// same KTP photo) for the RA's duplicate warnings.

// GetApplication reads application id inside tx.
func GetApplication(tx *bolt.Tx, id string) (Application, error) {
	var app Application
	raw := tx.Bucket(bucketApplications).Get([]byte(id))
	if raw == nil {
		return app, fmt.Errorf("application %s: %w", id, ErrNotFound)
	}
	if err := json.Unmarshal(raw, &app); err != nil {
		return app, fmt.Errorf("decode application %s: %w", id, err)
	}
	return app, nil
}

// PutApplication writes app inside tx and moves its state index entry.
func PutApplication(tx *bolt.Tx, app Application) error {
	if app.ID == "" || app.State == "" {
		return fmt.Errorf("application without id or state")
	}
	idx := tx.Bucket(bucketIndex)
	if old, err := GetApplication(tx, app.ID); err == nil && old.State != app.State {
		if err := idx.Delete(stateKey(old.State, app.ID)); err != nil {
			return err
		}
	}
	if err := idx.Put(stateKey(app.State, app.ID), nil); err != nil {
		return err
	}
	return putJSON(tx.Bucket(bucketApplications), app.ID, app)
}

func stateKey(state, id string) []byte { return []byte("state:" + state + ":" + id) }

// ApplicationsInState lists the applications in state, oldest update first.
func ApplicationsInState(tx *bolt.Tx, state string) ([]Application, error) {
	prefix := []byte("state:" + state + ":")
	var apps []Application
	c := tx.Bucket(bucketIndex).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		app, err := GetApplication(tx, string(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		apps = append(apps, app)
	}
	sort.SliceStable(apps, func(i, j int) bool { return apps[i].Updated.Before(apps[j].Updated) })
	return apps, nil
}

// GetApplicant reads applicant id inside tx.
func GetApplicant(tx *bolt.Tx, id string) (Applicant, error) {
	var a Applicant
	raw := tx.Bucket(bucketApplicants).Get([]byte(id))
	if raw == nil {
		return a, fmt.Errorf("applicant %s: %w", id, ErrNotFound)
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("decode applicant %s: %w", id, err)
	}
	return a, nil
}

// PutApplicant rewrites an existing applicant inside tx. Unique index
// entries are changed only through ReplaceUnique.
func PutApplicant(tx *bolt.Tx, a Applicant) error {
	if tx.Bucket(bucketApplicants).Get([]byte(a.ID)) == nil {
		return fmt.Errorf("applicant %s: %w", a.ID, ErrNotFound)
	}
	return putJSON(tx.Bucket(bucketApplicants), a.ID, a)
}

// Applicant reads applicant id.
func (db *DB) Applicant(id string) (a Applicant, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		a, err = GetApplicant(tx, id)
		return err
	})
	return a, err
}

// ReplaceUnique moves applicant id's unique index entry of kind ("nik",
// "email", "phone") from the keyed hash old to new. If new is claimed by
// another applicant it fails with a *TakenError and changes nothing.
func ReplaceUnique(tx *bolt.Tx, kind, id string, old, new []byte) error {
	idx := tx.Bucket(bucketIndex)
	newKey := []byte(kind + ":" + hex.EncodeToString(new))
	if owner := idx.Get(newKey); owner != nil {
		if string(owner) == id {
			return nil
		}
		return &TakenError{Field: kind}
	}
	oldKey := []byte(kind + ":" + hex.EncodeToString(old))
	if owner := idx.Get(oldKey); owner != nil && string(owner) == id {
		if err := idx.Delete(oldKey); err != nil {
			return err
		}
	}
	return idx.Put(newKey, []byte(id))
}

// AddDuplicateKey records that applicant id has the trait kind with keyed
// hash h.
func AddDuplicateKey(tx *bolt.Tx, kind string, h []byte, id string) error {
	return tx.Bucket(bucketIndex).Put([]byte("dup:"+kind+":"+hex.EncodeToString(h)+":"+id), nil)
}

// RemoveDuplicateKey forgets what AddDuplicateKey recorded.
func RemoveDuplicateKey(tx *bolt.Tx, kind string, h []byte, id string) error {
	return tx.Bucket(bucketIndex).Delete([]byte("dup:" + kind + ":" + hex.EncodeToString(h) + ":" + id))
}

// DuplicatesOf lists the applicants other than id with the trait kind of
// keyed hash h.
func DuplicatesOf(tx *bolt.Tx, kind string, h []byte, id string) []string {
	prefix := []byte("dup:" + kind + ":" + hex.EncodeToString(h) + ":")
	var ids []string
	c := tx.Bucket(bucketIndex).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if other := string(k[len(prefix):]); other != id {
			ids = append(ids, other)
		}
	}
	return ids
}
