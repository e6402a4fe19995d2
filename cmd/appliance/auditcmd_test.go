package main

// `appliance audit verify` on a real store file: directly, and through the
// admin socket of a running service (which holds the file's lock).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/adminsock"
	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/store"
)

// writeAuditPub writes pub as DIR/pki/audit.pub.pem, as the audit ceremony does.
func writeAuditPub(t *testing.T, dir string, pub any) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pki", "audit.pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func auditTestKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// auditAppend appends n records to db, checkpoints every 10.
func auditAppend(t *testing.T, db *bolt.DB, key *ecdsa.PrivateKey, n int) {
	t.Helper()
	l, err := audit.New(audit.Config{Signer: key, Every: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(l.Init); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		err := db.Update(func(tx *bolt.Tx) error {
			_, err := l.Append(tx, audit.Entry{Actor: fmt.Sprintf("cli:officer-%d", i), Action: "cert.revoke", Object: fmt.Sprintf("%04x", i),
				Details: map[string]string{"reason": "superseded"}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// auditStateDir lays out a state directory with a store holding n records
// (checkpoints every 10) and the audit public key.
func auditStateDir(t *testing.T, n int) (string, *ecdsa.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil { // the admin socket's directory must be private
		t.Fatal(err)
	}
	key := auditTestKey(t)
	writeAuditPub(t, dir, key.Public())
	db, err := store.Open(filepath.Join(dir, "appliance.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	auditAppend(t, db.DB, key, n)
	return dir, key
}

func auditKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// runAuditVerify runs `appliance audit verify ARGS...` in process.
func runAuditVerify(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append([]string{"audit", "verify"}, args...), &stdout, &stderr)
	return stdout.String(), err
}

// tamperFile rewrites the store file with bbolt directly.
func tamperFile(t *testing.T, dir string, f func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "appliance.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		tamper func(tx *bolt.Tx) error
		want   string // stdout substring on success, error substring on failure
		ok     bool
	}{
		{"intact", []string{"--every", "10"}, nil, "audit log verified: 25 records, 2 checkpoints, head seq 25 hash ", true},
		{"intact, default interval", nil, nil, "the last 5 records (after checkpoint 20) are chained but not yet signed", true},
		{"one byte of a record changed", nil, func(tx *bolt.Tx) error {
			raw := bytes.Clone(tx.Bucket([]byte("audit")).Get(auditKey(17)))
			i := bytes.Index(raw, []byte("officer-17"))
			raw[i] = 'O'
			return tx.Bucket([]byte("audit")).Put(auditKey(17), raw)
		}, "audit log broken: record 17: contents do not match its hash", false},
		{"a record deleted", nil, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("audit")).Delete(auditKey(5))
		}, "record 5 is missing", false},
		{"two records swapped", nil, func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("audit"))
			r3, r4 := bytes.Clone(b.Get(auditKey(3))), bytes.Clone(b.Get(auditKey(4)))
			b.Put(auditKey(3), r4)
			return b.Put(auditKey(4), r3)
		}, "record 3: the record stored there says it is record 4", false},
		{"a checkpoint deleted", []string{"--every", "10"}, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("audit_checkpoints")).Delete(auditKey(10))
		}, "record 10: checkpoint missing", false},
		{"the tail truncated", nil, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("audit")).Delete(auditKey(25))
		}, "record 25 is missing", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := auditStateDir(t, 25)
			if tc.tamper != nil {
				tamperFile(t, dir, tc.tamper)
			}
			out, err := runAuditVerify(t, append([]string{"--state", dir}, tc.args...)...)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("audit verify: %v", err)
			case tc.ok && !strings.Contains(out, tc.want):
				t.Errorf("stdout lacks %q:\n%s", tc.want, out)
			case !tc.ok && err == nil:
				t.Fatalf("audit verify passed a tampered log:\n%s", out)
			case !tc.ok && (!strings.Contains(err.Error(), tc.want) || errors.Is(err, errUsage)):
				t.Errorf("error %q, want one holding %q (exit 1, not a usage error)", err, tc.want)
			case !tc.ok && out != "":
				t.Errorf("a failed verification printed %q", out)
			}
		})
	}
}

func TestAuditVerifyCommandRefusals(t *testing.T) {
	dir, _ := auditStateDir(t, 3)
	other := t.TempDir()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDir := t.TempDir()
	writeAuditPub(t, edDir, edPub)
	wrongDir, _ := auditStateDir(t, 12)
	writeAuditPub(t, wrongDir, auditTestKey(t).Public())
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no subcommand", []string{"audit"}, true, "audit needs a subcommand"},
		{"unknown subcommand", []string{"audit", "check"}, true, `"check"`},
		{"no --state", []string{"audit", "verify"}, true, "--state"},
		{"zero interval", []string{"audit", "verify", "--state", dir, "--every", "0"}, true, "--every"},
		{"not a state directory", []string{"audit", "verify", "--state", other, "--key", filepath.Join(dir, "pki", "audit.pub.pem")}, false, "no appliance.db"},
		{"no public key", []string{"audit", "verify", "--state", other}, false, "audit.pub.pem"},
		{"not an ECDSA key", []string{"audit", "verify", "--state", dir, "--key", filepath.Join(edDir, "pki", "audit.pub.pem")}, false, "want ECDSA"},
		{"another audit key", []string{"audit", "verify", "--state", wrongDir}, false, "checkpoint 10: signature does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, io.Discard)
			if err == nil || errors.Is(err, errUsage) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v (usage %v), want usage=%v holding %q", err, errors.Is(err, errUsage), tc.usage, tc.want)
			}
		})
	}
	if names, _ := os.ReadDir(other); len(names) != 0 {
		t.Errorf("audit verify created %v in a directory that was not a state directory", names)
	}
}

// TestAuditVerifyThroughAdminSocket: while a service holds the store, the
// CLI verifies through its admin socket (a direct open would time out on
// the lock), and still names a broken record.
func TestAuditVerifyThroughAdminSocket(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil { // the admin socket's directory must be private
		t.Fatal(err)
	}
	key := auditTestKey(t)
	writeAuditPub(t, dir, key.Public())
	db, err := store.Open(filepath.Join(dir, "appliance.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	auditAppend(t, db.DB, key, 15)
	logger := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	ready, errc := make(chan struct{}), make(chan error, 1)
	go func() {
		errc <- adminsock.Serve(ctx, adminsock.SocketPath(dir), adminHandler(directOps{&state{db: db}}, logger), logger, ready)
	}()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("admin socket: %v", err)
		}
		db.Close()
	})
	out, err := runAuditVerify(t, "--state", dir, "--every", "10")
	if err != nil || !strings.Contains(out, "audit log verified: 15 records, 1 checkpoints, head seq 15") {
		t.Fatalf("audit verify through the socket: %v\n%s", err, out)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		var r audit.Record
		b := tx.Bucket([]byte("audit"))
		if err := json.Unmarshal(b.Get(auditKey(7)), &r); err != nil {
			return err
		}
		r.Action = "cert.issue"
		raw, _ := json.Marshal(r)
		return b.Put(auditKey(7), raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runAuditVerify(t, "--state", dir); err == nil || !strings.Contains(err.Error(), "record 7: contents do not match its hash") {
		t.Errorf("audit verify of a tampered log through the socket: %v", err)
	}
	// Malformed requests are refused as such.
	ops := directOps{&state{db: db}}
	for _, q := range []string{"every=0&key=AA", "every=10&key=!!", "every=10&key=AAAA"} {
		vals, _ := url.ParseQuery(q)
		if _, err := adminAuditVerify(ops, vals); !errors.Is(err, ca.ErrBadRequest) {
			t.Errorf("GET /v1/audit/verify?%s: %v, want a bad request", q, err)
		}
	}
}
