package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/store"
)

// auditVerifyResult is the admin API's answer to GET /v1/audit/verify: a
// broken log is a finding, not a failed request.
type auditVerifyResult struct {
	Report audit.Report       `json:"report"`
	Broken *audit.BrokenError `json:"broken,omitempty"`
}

// auditCommand is `appliance audit verify --state DIR [--every N] [--key FILE]`.
func auditCommand(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: audit needs a subcommand: verify", errUsage)
	}
	if args[0] != "verify" {
		return fmt.Errorf("%w: unknown audit subcommand %q", errUsage, args[0])
	}
	fs := newFlags("audit verify")
	dir := fs.String("state", "", "state directory")
	every := fs.Int("every", audit.DefaultEvery, "records between checkpoints: the service's setting")
	keyPath := fs.String("key", "", "the audit public key, PEM (default DIR/pki/audit.pub.pem)")
	if err := parseFlags(fs, args[1:], "state"); err != nil {
		return err
	}
	if *every < 1 {
		return fmt.Errorf("%w: audit verify: --every must be at least 1", errUsage)
	}
	if *keyPath == "" {
		*keyPath = filepath.Join(*dir, "pki", "audit.pub.pem")
	}
	der, err := readAuditKey(*keyPath)
	if err != nil {
		return err
	}
	res, err := verifyAudit(ctx, *dir, der, *every, logger)
	if err != nil {
		return fmt.Errorf("audit verify %s: %w", *dir, err)
	}
	if res.Broken != nil {
		return fmt.Errorf("audit verify %s: %w", *dir, res.Broken)
	}
	rep := res.Report
	fmt.Fprintf(stdout, "audit log verified: %d records, %d checkpoints, head seq %d hash %s\n",
		rep.Records, rep.Checkpoints, rep.Head, rep.HeadHash)
	if rep.Unsigned > 0 {
		fmt.Fprintf(stdout, "the last %d records (after checkpoint %d) are chained but not yet signed: the service signs them at the next checkpoint or at shutdown\n",
			rep.Unsigned, rep.LastCheckpoint)
	}
	if rep.TimeRegressions > 0 {
		fmt.Fprintf(stdout, "warning: %d records are stamped earlier than the record before them: check the host clock\n", rep.TimeRegressions)
	}
	return nil
}

// readAuditKey reads the PEM "PUBLIC KEY" of the audit key and returns its
// PKIX DER.
func readAuditKey(path string) ([]byte, error) {
	data, err := readSmall(path, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("read the audit public key: %w", err)
	}
	der := pemBlock(data, "PUBLIC KEY")
	if der == nil {
		return nil, fmt.Errorf("%s holds no PEM PUBLIC KEY block", path)
	}
	if _, err := parseAuditKey(der); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return der, nil
}

func parseAuditKey(der []byte) (*ecdsa.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("the audit public key: %w", err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the audit public key is %T, want ECDSA", pub)
	}
	return k, nil
}

// verifyAudit verifies through the running service's admin socket if one
// answers (it holds the database lock), else on the file directly.
func verifyAudit(ctx context.Context, dir string, der []byte, every int, logger *slog.Logger) (auditVerifyResult, error) {
	var res auditVerifyResult
	if ops, ok := dialAdmin(dir); ok {
		r, ok := ops.(remoteOps)
		if !ok {
			return res, fmt.Errorf("admin socket: unexpected client %T", ops)
		}
		logger.DebugContext(ctx, "verifying through the running service", "dir", dir)
		q := url.Values{"every": {strconv.Itoa(every)}, "key": {base64.RawURLEncoding.EncodeToString(der)}}
		return res, r.call(ctx, http.MethodGet, "/v1/audit/verify?"+q.Encode(), nil, &res)
	}
	path := filepath.Join(dir, "appliance.db")
	if _, err := os.Stat(path); err != nil {
		return res, fmt.Errorf("%s is not an appliance state directory (no appliance.db)", dir)
	}
	db, err := store.Open(path, 2*time.Second)
	if err != nil {
		return res, err
	}
	defer db.Close()
	pub, err := parseAuditKey(der)
	if err != nil {
		return res, err
	}
	return verifyAuditDB(db.DB, pub, every)
}

// verifyAuditDB verifies the log in db; a broken log is returned in the
// result, not as the error.
func verifyAuditDB(db *bolt.DB, pub *ecdsa.PublicKey, every int) (auditVerifyResult, error) {
	var res auditVerifyResult
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		res.Report, err = audit.Verify(tx, pub, every)
		return err
	})
	if b, ok := audit.IsBroken(err); ok {
		res.Broken, err = b, nil
	}
	return res, err
}

// adminAuditVerify serves GET /v1/audit/verify?every=N&key=BASE64URL(PKIX DER)
// on the admin socket. The key is the caller's: an auditor verifies against
// the key they trust, not one the service would pick.
func adminAuditVerify(ops caOps, q url.Values) (auditVerifyResult, error) {
	every, err := strconv.Atoi(q.Get("every"))
	if err != nil || every < 1 {
		return auditVerifyResult{}, fmt.Errorf("%w: every must be a positive number", ca.ErrBadRequest)
	}
	der, err := base64.RawURLEncoding.DecodeString(q.Get("key"))
	if err != nil {
		return auditVerifyResult{}, fmt.Errorf("%w: key must be base64url PKIX DER", ca.ErrBadRequest)
	}
	pub, err := parseAuditKey(der)
	if err != nil {
		return auditVerifyResult{}, fmt.Errorf("%w: %v", ca.ErrBadRequest, err)
	}
	d, ok := ops.(directOps)
	if !ok || d.st == nil || d.st.db == nil {
		return auditVerifyResult{}, errors.New("this service has no database to verify")
	}
	return verifyAuditDB(d.st.db.DB, pub, every)
}
