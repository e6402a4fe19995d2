package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesPrivateFileAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appliance.db")
	db, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.Schema(); err != nil || v != SchemaVersion {
		t.Fatalf("schema %d, %v", v, err)
	}
	db.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	db, err = Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func TestOpenRefusesNewerSchemaAndLoosePermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "appliance.db")
	db, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, SchemaVersion+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, time.Second); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("got %v, want ErrNewerSchema", err)
	}
	loose := filepath.Join(dir, "loose.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(loose, time.Second); err == nil {
		t.Fatal("a world-readable database was accepted")
	}
}

func TestGroupWritesAfterCloseFailCleanly(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "a.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 16)
	for i := 0; i < 16; i++ {
		go func() {
			done <- db.RecordIntent(CertRecord{Serial: fmt.Sprintf("%x", i+1), TBSHash: []byte{1}})
		}()
	}
	db.Close()
	for i := 0; i < 16; i++ {
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("a write racing Close: %v", err)
		}
	}
}
