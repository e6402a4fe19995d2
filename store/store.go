// Package store is the appliance's bbolt database: one file, mode 0600,
// opened by one process at a time. This first version creates the file
// and its meta bucket (schema version); later capabilities add their
// buckets through Migrate.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the version of the bucket layout this code writes.
const SchemaVersion = 1

var (
	bucketMeta = []byte("meta")
	keySchema  = []byte("schema_version")
)

// ErrNewerSchema means the file was written by a newer appliance.
var ErrNewerSchema = errors.New("the database was written by a newer appliance version")

// DB is the open database.
type DB struct {
	*bolt.DB
	group *groupCommitter
}

// Close waits for the queued writes and closes the file.
func (db *DB) Close() error {
	db.group.close()
	return db.DB.Close()
}

// Open opens or creates the database at path with mode 0600. It waits at
// most timeout for another process's lock.
func Open(path string, timeout time.Duration) (*DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("open database %s (is another appliance running on it?): %w", path, err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		db.Close()
		return nil, fmt.Errorf("database %s has mode %v: chmod 0600 it", path, st.Mode().Perm())
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketCertificates, bucketCRLs, bucketOCSP, bucketBlobs, bucketApplicants, bucketApplications, bucketIndex, bucketOfficers} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		b, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := b.Get(keySchema); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("corrupt schema version record")
			}
			if got := binary.BigEndian.Uint64(v); got > SchemaVersion {
				return fmt.Errorf("%w: schema %d, this binary knows %d", ErrNewerSchema, got, SchemaVersion)
			}
			return nil
		}
		return b.Put(keySchema, binary.BigEndian.AppendUint64(nil, SchemaVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise database %s: %w", path, err)
	}
	return &DB{DB: db, group: newGroupCommitter(db)}, nil
}

// Schema returns the stored schema version.
func (db *DB) Schema() (uint64, error) {
	var v uint64
	err := db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMeta).Get(keySchema)
		if len(raw) != 8 {
			return errors.New("schema version missing")
		}
		v = binary.BigEndian.Uint64(raw)
		return nil
	})
	return v, err
}

var keySettings = []byte("settings")

// PutSettings records the running service's settings (JSON of v), so that
// tools working on the files while it is stopped use the same ones.
func (db *DB) PutSettings(v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	return db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySettings, raw) })
}

// Settings decodes the recorded settings into v; ok is false if there are
// none.
func (db *DB) Settings(v any) (ok bool, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMeta).Get(keySettings)
		if raw == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(raw, v)
	})
	return ok, err
}
