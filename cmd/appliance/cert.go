package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/psre/appliance/ca"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func certCommand(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: cert needs a subcommand: issue, revoke or show", errUsage)
	}
	switch args[0] {
	case "issue":
		return certIssue(ctx, args[1:], stdout, log)
	case "revoke":
		return certRevoke(ctx, args[1:], stdout, log)
	case "show":
		return certShow(ctx, args[1:], stdout, log)
	}
	return fmt.Errorf("%w: unknown cert subcommand %q", errUsage, args[0])
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q", errUsage, fs.Name(), fs.Arg(0))
	}
	for _, r := range required {
		if fs.Lookup(r).Value.String() == "" {
			return fmt.Errorf("%w: %s needs --%s", errUsage, fs.Name(), r)
		}
	}
	return nil
}

func certIssue(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := newFlags("cert issue")
	dir := fs.String("state", "", "state directory")
	profile := fs.String("profile", "", "officer or tls")
	csrPath := fs.String("csr", "", "PKCS#10 request, PEM or DER")
	name := fs.String("name", "", "subject name (default: the CSR's common name)")
	email := fs.String("email", "", "e-mail address (officer)")
	out := fs.String("out", "", "where to write the certificate (PEM); must not exist")
	var dns stringList
	fs.Var(&dns, "dns", "DNS name (tls; repeat for more)")
	if err := parseFlags(fs, args, "state", "profile", "csr", "out"); err != nil {
		return err
	}
	csr, err := readSmall(*csrPath, 64<<10)
	if err != nil {
		return fmt.Errorf("read CSR: %w", err)
	}
	if b := pemBlock(csr, "CERTIFICATE REQUEST"); b != nil {
		csr = b
	}
	// Claim the output first: a certificate is never issued that cannot be written.
	o, err := claimOutput(*out)
	if err != nil {
		return err
	}
	defer o.abandon()
	ops, err := openOps(ctx, *dir, log)
	if err != nil {
		return err
	}
	defer ops.close()
	res, err := ops.issue(ctx, issueRequest{Profile: *profile, CSR: csr, Name: *name, Email: *email, DNS: dns}, cliActor())
	if err != nil {
		return err
	}
	if err := o.write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.DER})); err != nil {
		return fmt.Errorf("%w (the certificate is issued and stored as serial %s)", err, res.Serial)
	}
	fmt.Fprintf(stdout, "issued %s certificate serial %s by CA %s: %s\n", *profile, res.Serial, res.CA, *out)
	return nil
}

func certRevoke(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := newFlags("cert revoke")
	dir := fs.String("state", "", "state directory")
	serial := fs.String("serial", "", "serial number, hex")
	reason := fs.String("reason", "", "RFC 5280 reason: keyCompromise, affiliationChanged, superseded, cessationOfOperation, ...")
	invalidity := fs.String("invalidity", "", "invalidity date, RFC 3339 (optional)")
	if err := parseFlags(fs, args, "state", "serial", "reason"); err != nil {
		return err
	}
	if _, err := ca.ParseReason(*reason); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if _, err := ca.ParseSerial(*serial); err != nil {
		return fmt.Errorf("%w: --serial: %v", errUsage, err)
	}
	var inv time.Time
	if *invalidity != "" {
		t, err := time.Parse(time.RFC3339, *invalidity)
		if err != nil {
			return fmt.Errorf("%w: --invalidity %q is not an RFC 3339 time", errUsage, *invalidity)
		}
		inv = t
	}
	ops, err := openOps(ctx, *dir, log)
	if err != nil {
		return err
	}
	defer ops.close()
	rec, err := ops.revoke(ctx, *serial, revokeRequest{Reason: *reason, Invalidity: inv}, cliActor())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked serial %s of CA %s (%s) at %s\n", rec.Serial, rec.CA, *reason, rec.RevokedAt.Format(time.RFC3339))
	return nil
}

func certShow(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := newFlags("cert show")
	dir := fs.String("state", "", "state directory")
	serial := fs.String("serial", "", "serial number, hex")
	if err := parseFlags(fs, args, "state", "serial"); err != nil {
		return err
	}
	if _, err := ca.ParseSerial(*serial); err != nil {
		return fmt.Errorf("%w: --serial: %v", errUsage, err)
	}
	ops, err := openOps(ctx, *dir, log)
	if err != nil {
		return err
	}
	defer ops.close()
	rec, err := ops.show(ctx, *serial)
	if err != nil {
		return err
	}
	der := rec.DER
	rec.DER = nil // shown as PEM below
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rec); err != nil {
		return err
	}
	if len(der) > 0 {
		return pem.Encode(stdout, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	return nil
}

func crlCommand(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := newFlags("crl")
	dir := fs.String("state", "", "state directory")
	caName := fs.String("ca", "", "issuing, admin (signs a new CRL) or root (the ceremony's latest)")
	out := fs.String("out", "", "where to write the CRL (DER); must not exist")
	if err := parseFlags(fs, args, "state", "ca", "out"); err != nil {
		return err
	}
	// Claim the output first: no CRL is signed that cannot be written.
	o, err := claimOutput(*out)
	if err != nil {
		return err
	}
	defer o.abandon()
	ops, err := openOps(ctx, *dir, log)
	if err != nil {
		return err
	}
	defer ops.close()
	der, err := ops.crl(ctx, *caName)
	if err != nil {
		return err
	}
	if err := o.write(der); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "CRL of %s written to %s\n", *caName, *out)
	return nil
}

func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// claimedOutput is an output file created (O_EXCL) before the work that
// fills it, and removed again if that work fails.
type claimedOutput struct {
	f       *os.File
	written bool
}

func claimOutput(path string) (*claimedOutput, error) { return claimOutputMode(path, 0o644) }

// claimOutputMode claims path with mode (0600 for keys and passwords).
func claimOutputMode(path string, mode os.FileMode) (*claimedOutput, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return &claimedOutput{f: f}, nil
}

func (o *claimedOutput) write(data []byte) error {
	if _, err := o.f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", o.f.Name(), err)
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", o.f.Name(), err)
	}
	o.written = true
	return o.f.Close()
}

// abandon removes the file unless it was written.
func (o *claimedOutput) abandon() {
	if !o.written {
		o.f.Close()
		os.Remove(o.f.Name())
	}
}
