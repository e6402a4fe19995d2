package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/psre/appliance/store"
)

func officerCommand(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: officer needs a subcommand: add, list, disable or enable", errUsage)
	}
	switch args[0] {
	case "add":
		return officerAdd(ctx, args[1:], stdout, log)
	case "list":
		return officerList(ctx, args[1:], stdout, log)
	case "disable":
		return officerStatus(ctx, args[1:], stdout, log, store.OfficerDisabled)
	case "enable":
		return officerStatus(ctx, args[1:], stdout, log, store.OfficerActive)
	}
	return fmt.Errorf("%w: unknown officer subcommand %q", errUsage, args[0])
}

// officerFiles are the files `officer add` writes without a CSR.
type officerFiles struct{ cert, key, p12, password string }

func newOfficerFiles(dir, base string) officerFiles {
	p := filepath.Join(dir, base)
	return officerFiles{cert: p + ".crt", key: p + ".key", p12: p + ".p12", password: p + ".p12-password"}
}

func officerAdd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := newFlags("officer add")
	dir := fs.String("state", "", "state directory")
	name := fs.String("name", "", "the officer's name (unique)")
	role := fs.String("role", "", "cs, ra or auditor")
	csrPath := fs.String("csr", "", "the officer's PKCS#10 request (PEM or DER); without it a key is made here, for demo use only")
	email := fs.String("email", "", "the officer's e-mail (segregation of duties: they never act on an application with it)")
	nikFile := fs.String("nik-file", "", "file holding the officer's NIK (segregation of duties; never on the command line)")
	outDir := fs.String("out-dir", "", "where to write the certificate (default STATE/officers)")
	base := fs.String("file", "", "base name of the written files (default: the name in lower case, spaces as -)")
	if err := parseFlags(fs, args, "state", "name", "role"); err != nil {
		return err
	}
	if !store.ValidRole(*role) {
		return fmt.Errorf("%w: --role %q: use cs, ra or auditor", errUsage, *role)
	}
	var nik string
	if *nikFile != "" {
		raw, err := readSmall(*nikFile, 64)
		if err != nil {
			return fmt.Errorf("read --nik-file: %w", err)
		}
		nik = strings.TrimSpace(string(raw))
	}
	if *outDir == "" {
		*outDir = filepath.Join(*dir, "officers")
	}
	if *base == "" {
		*base = strings.ToLower(strings.Join(strings.Fields(*name), "-"))
	}
	if err := os.MkdirAll(*outDir, 0o700); err != nil {
		return err
	}
	var csr []byte
	if *csrPath != "" {
		raw, err := readSmall(*csrPath, 64<<10)
		if err != nil {
			return fmt.Errorf("read CSR: %w", err)
		}
		if csr = pemBlock(raw, "CERTIFICATE REQUEST"); csr == nil {
			csr = raw
		}
	}
	ops, err := openOps(ctx, *dir, log)
	if err != nil {
		return err
	}
	defer ops.close()
	_, err = createOfficer(ctx, ops, officerSpec{stateDir: *dir, files: newOfficerFiles(*outDir, *base),
		req: officerRequest{Name: *name, Role: *role, CSR: csr, Email: *email, NIK: nik}}, stdout)
	return err
}

// officerSpec is an officer to create and where its files go.
type officerSpec struct {
	stateDir string
	files    officerFiles
	req      officerRequest // without a CSR a key is made here (demo use only)
}

// createOfficer claims the output files, makes a key and CSR unless the
// request has one, has the officer added, and writes the certificate (and
// the demo key with its PKCS#12 file and password).
func createOfficer(ctx context.Context, ops caOps, spec officerSpec, stdout io.Writer) (officerResult, error) {
	files := spec.files
	var key *ecdsa.PrivateKey
	var err error
	if spec.req.CSR == nil {
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return officerResult{}, err
		}
		tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: spec.req.Name}}
		if spec.req.CSR, err = x509.CreateCertificateRequest(rand.Reader, tmpl, key); err != nil {
			return officerResult{}, err
		}
	}
	// Claim every output before anything is issued.
	outs := map[string]*claimedOutput{}
	paths := []string{files.cert}
	if key != nil {
		paths = append(paths, files.key, files.p12, files.password)
	}
	for _, p := range paths {
		mode := os.FileMode(0o600)
		if p == files.cert {
			mode = 0o644
		}
		o, err := claimOutputMode(p, mode)
		if err != nil {
			return officerResult{}, err
		}
		defer o.abandon()
		outs[p] = o
	}
	res, err := ops.addOfficer(ctx, spec.req, cliActor())
	if err != nil {
		return officerResult{}, err
	}
	if err := outs[files.cert].write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.DER})); err != nil {
		return officerResult{}, err
	}
	fmt.Fprintf(stdout, "officer %q (%s) added: certificate serial %s, fingerprint %s\n  certificate: %s\n",
		res.Officer.Name, res.Officer.Role, res.Officer.Serial, res.Officer.Fingerprint, files.cert)
	if key == nil {
		return res, nil
	}
	password, err := writeOfficerKey(spec.stateDir, key, res.DER, files, outs)
	if err != nil {
		return officerResult{}, err
	}
	fmt.Fprintf(stdout, "  key (demo only): %s\n  PKCS#12: %s (password %s, also in %s)\n", files.key, files.p12, password, files.password)
	return res, nil
}

// writeOfficerKey writes the demo officer's key and a PKCS#12 file with
// the key, the certificate and the admin CA chain, under a fresh password.
func writeOfficerKey(dir string, key *ecdsa.PrivateKey, der []byte, files officerFiles, outs map[string]*claimedOutput) (string, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", err
	}
	var chain []*x509.Certificate
	for _, name := range []string{"admin", "root"} {
		c, err := readCertFile(filepath.Join(dir, "pki", name+".pem"))
		if err != nil {
			return "", err
		}
		chain = append(chain, c)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	raw := make([]byte, 10)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	password := strings.ToLower(base32.StdEncoding.EncodeToString(raw))
	p12, err := pkcs12.Modern2023.Encode(key, cert, chain, password)
	if err != nil {
		return "", fmt.Errorf("PKCS#12: %w", err)
	}
	for path, data := range map[string][]byte{
		files.key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		files.p12: p12, files.password: []byte(password + "\n"),
	} {
		if err := outs[path].write(data); err != nil {
			return "", err
		}
	}
	return password, nil
}

func officerList(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := newFlags("officer list")
	dir := fs.String("state", "", "state directory")
	if err := parseFlags(fs, args, "state"); err != nil {
		return err
	}
	ops, err := openOps(ctx, *dir, log)
	if err != nil {
		return err
	}
	defer ops.close()
	list, err := ops.listOfficers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tSERIAL\tFINGERPRINT\tCREATED")
	for _, o := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.Name, o.Role, o.Status, o.Serial, o.Fingerprint[:16]+"…", o.Created.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func officerStatus(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger, status string) error {
	fs := newFlags("officer " + map[string]string{store.OfficerDisabled: "disable", store.OfficerActive: "enable"}[status])
	dir := fs.String("state", "", "state directory")
	name := fs.String("name", "", "the officer's name")
	if err := parseFlags(fs, args, "state", "name"); err != nil {
		return err
	}
	ops, err := openOps(ctx, *dir, log)
	if err != nil {
		return err
	}
	defer ops.close()
	o, err := ops.setOfficerStatus(ctx, *name, status, cliActor())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "officer %q (%s) is %s\n", o.Name, o.Role, o.Status)
	return nil
}
