package main_test

// The officer commands on a demo state directory: cert issue, revoke and
// show and crl, run directly on the files and through the running service's
// admin socket, checked with openssl, zlint and the store itself.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/store"
)

// newCSR makes a request for /CN=cn with openssl (an EC P-256 key unless
// newkey says otherwise) and returns the path of its PEM.
func newCSR(t *testing.T, cn string, newkey ...string) string {
	t.Helper()
	if len(newkey) == 0 {
		newkey = []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}
	}
	dir := t.TempDir()
	csr := filepath.Join(dir, "csr.pem")
	args := append([]string{"req", "-new"}, newkey...)
	args = append(args, "-nodes", "-keyout", filepath.Join(dir, "key.pem"), "-subj", "/CN="+cn, "-out", csr)
	if r := runCmd(t, nil, "openssl", args...); r.code != 0 {
		t.Fatalf("openssl %s: %s", strings.Join(args, " "), r)
	}
	return csr
}

var issuedLine = regexp.MustCompile(`^issued (\w+) certificate serial ([0-9a-f]+) by CA (\w+): (.+)\n$`)

// issueCert runs cert issue, requires success and returns the serial the
// command printed and the certificate it wrote to out.
func issueCert(t *testing.T, dir, profile, csr, out string, extra ...string) (string, *x509.Certificate) {
	t.Helper()
	args := append([]string{"cert", "issue", "--state", dir, "--profile", profile, "--csr", csr, "--out", out}, extra...)
	r := appliance(t, nil, args...)
	m := issuedLine.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("appliance %s: want exit 0 and an \"issued ... serial\" line:\n%s", strings.Join(args, " "), r)
	}
	if m[1] != profile || m[3] != "admin" || m[4] != out {
		t.Errorf("issued line %q: want profile %s by CA admin written to %s", m[0], profile, out)
	}
	cert := readCert(t, out)
	if got := cert.SerialNumber.Text(16); got != m[2] {
		t.Errorf("%s holds serial %s, the command printed %s", out, got, m[2])
	}
	return m[2], cert
}

// readCert reads a file holding exactly one PEM certificate.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, rest := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("%s is not exactly one PEM certificate:\n%s", path, data)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// readCRL parses a DER CRL file.
func readCRL(t *testing.T, path string) *x509.RevocationList {
	t.Helper()
	der, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return crl
}

// crlReason returns the reason code of serial (hex) on crl, or -1.
func crlReason(crl *x509.RevocationList, serial string) int {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Text(16) == serial {
			return e.ReasonCode
		}
	}
	return -1
}

// verifyChain has openssl verify a certificate of the admin CA.
func verifyChain(t *testing.T, dir, path string) {
	t.Helper()
	pki := filepath.Join(dir, "pki")
	r := runCmd(t, nil, "openssl", "verify", "-CAfile", filepath.Join(pki, "root.pem"), "-untrusted", filepath.Join(pki, "admin.pem"), path)
	if r.code != 0 || !strings.Contains(r.stdout, path+": OK") {
		t.Errorf("openssl verify %s:\n%s", path, r)
	}
}

func wantRecord(t *testing.T, rec store.CertRecord, profile, state, status string) {
	t.Helper()
	if rec.CA != "admin" || rec.Profile != profile || rec.State != state || rec.Status != status || !strings.HasPrefix(rec.Requester, "cli:") {
		t.Errorf("record %+v: want CA admin, profile %s, state %q, status %q, a requester starting cli:", rec, profile, state, status)
	}
}

func TestCertCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	initDemo(t, dir)
	pki := func(name string) string { return filepath.Join(dir, "pki", name) }
	out := t.TempDir()
	linter, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}

	var officer string
	if !t.Run("issue officer", func(t *testing.T) {
		path := filepath.Join(out, "officer.pem")
		serial, cert := issueCert(t, dir, "officer", newCSR(t, "Alice Officer"), path, "--email", "alice@example.com")
		verifyChain(t, dir, path)
		if err := linter.Certificate(cert.Raw); err != nil {
			t.Error(err)
		}
		if cert.Subject.CommonName != "Alice Officer" || !slices.Equal(cert.EmailAddresses, []string{"alice@example.com"}) ||
			!slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("officer certificate: subject %s, e-mail %q, EKU %v", cert.Subject, cert.EmailAddresses, cert.ExtKeyUsage)
		}
		rec, _ := showCert(t, dir, serial)
		wantRecord(t, rec, "officer", store.StateIssued, store.StatusGood)
		officer = serial
	}) {
		return
	}

	t.Run("issue tls", func(t *testing.T) {
		path := filepath.Join(out, "tls.pem")
		dns := []string{"console.example", "localhost"}
		serial, cert := issueCert(t, dir, "tls", newCSR(t, "ignored"), path, "--dns", dns[0], "--dns", dns[1])
		verifyChain(t, dir, path)
		if err := linter.PrivateTLSCertificate(cert.Raw); err != nil {
			t.Error(err)
		}
		if !slices.Equal(cert.DNSNames, dns) || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
			t.Errorf("tls certificate: DNS names %q, EKU %v", cert.DNSNames, cert.ExtKeyUsage)
		}
		rec, _ := showCert(t, dir, serial)
		wantRecord(t, rec, "tls", store.StateIssued, store.StatusGood)
	})

	if !t.Run("revoke", func(t *testing.T) {
		prev := readCRL(t, pki("admin.crl")).Number
		revoke := func(serial, reason string) result {
			t.Helper()
			return appliance(t, nil, "cert", "revoke", "--state", dir, "--serial", serial, "--reason", reason)
		}
		if r := revoke(officer, "keyCompromise"); r.code != 0 || !strings.Contains(r.stdout, "revoked serial "+officer) {
			t.Fatalf("cert revoke:\n%s", r)
		}
		rec, _ := showCert(t, dir, officer)
		wantRecord(t, rec, "officer", store.StateIssued, store.StatusRevoked)
		if rec.Reason != 1 || rec.RevokedAt.IsZero() || !strings.HasPrefix(rec.RevokedBy, "cli:") {
			t.Errorf("revoked record: reason %d at %v by %q, want 1, a time and a cli: actor", rec.Reason, rec.RevokedAt, rec.RevokedBy)
		}
		crl := readCRL(t, pki("admin.crl"))
		if crl.Number.Cmp(prev) <= 0 || crlReason(crl, officer) != 1 {
			t.Errorf("pki/admin.crl: number %v (was %v), reason of %s %d: want a greater number and 1", crl.Number, prev, officer, crlReason(crl, officer))
		}
		r := runCmd(t, nil, "openssl", "crl", "-inform", "DER", "-in", pki("admin.crl"), "-text", "-noout")
		n, _ := new(big.Int).SetString(officer, 16)
		_, entry, found := strings.Cut(r.stdout, "Serial Number: "+strings.ToUpper(hex.EncodeToString(n.Bytes())))
		entry, _, _ = strings.Cut(entry, "Serial Number:")
		if r.code != 0 || !found || !strings.Contains(entry, "Key Compromise") {
			t.Errorf("openssl does not list %s with Key Compromise:\n%s", officer, r)
		}

		before := readCRL(t, pki("admin.crl")).Number
		if r := revoke(officer, "keyCompromise"); r.code != 0 {
			t.Errorf("revoking again with the same reason:\n%s", r)
		}
		if after := readCRL(t, pki("admin.crl")).Number; after.Cmp(before) != 0 {
			t.Errorf("the same revocation again re-signed the CRL: number %v -> %v", before, after)
		}
		if r := revoke(officer, "superseded"); r.code == 0 || !strings.Contains(r.stderr, "different") {
			t.Errorf("revoking again with another reason: want a failure saying \"different\":\n%s", r)
		}
		if again, _ := showCert(t, dir, officer); again.Reason != 1 || !again.RevokedAt.Equal(rec.RevokedAt) {
			t.Errorf("the revocation changed: reason %d at %v, want 1 at %v", again.Reason, again.RevokedAt, rec.RevokedAt)
		}
		if r := revoke("abcdef12", "keyCompromise"); r.code == 0 || !strings.Contains(r.stderr, "no such certificate") {
			t.Errorf("revoking an unknown serial: want \"no such certificate\":\n%s", r)
		}
		r = revoke(officer, "bogus")
		if (r.code != 1 && r.code != 2) || !strings.Contains(r.stderr, `"bogus"`) ||
			!strings.Contains(r.stderr, "keyCompromise") || !strings.Contains(r.stderr, "cessationOfOperation") {
			t.Errorf("an unknown reason: want exit 1 or 2 naming it and listing the reasons:\n%s", r)
		}
	}) {
		return
	}

	t.Run("crl", func(t *testing.T) {
		crl := func(caName, path string) result {
			t.Helper()
			return appliance(t, nil, "crl", "--state", dir, "--ca", caName, "--out", path)
		}
		prev := readCRL(t, pki("admin.crl")).Number
		adminCRL := filepath.Join(out, "admin.crl")
		if r := crl("admin", adminCRL); r.code != 0 {
			t.Fatalf("crl --ca admin:\n%s", r)
		}
		r := runCmd(t, nil, "openssl", "crl", "-inform", "DER", "-in", adminCRL, "-CAfile", pki("admin.pem"), "-noout")
		if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "verify OK") {
			t.Errorf("openssl crl does not verify %s:\n%s", adminCRL, r)
		}
		got := readCRL(t, adminCRL)
		if got.Number.Cmp(prev) <= 0 || crlReason(got, officer) != 1 {
			t.Errorf("CRL number %v (was %v), reason of %s %d: want a greater number and 1", got.Number, prev, officer, crlReason(got, officer))
		}
		published, _ := os.ReadFile(pki("admin.crl"))
		wantFile(t, adminCRL, published)

		rootCRL := filepath.Join(out, "root.crl")
		if r := crl("root", rootCRL); r.code != 0 {
			t.Fatalf("crl --ca root:\n%s", r)
		}
		ceremony, _ := os.ReadFile(pki("root.crl"))
		wantFile(t, rootCRL, ceremony)

		nope := filepath.Join(out, "nope.crl")
		if r := crl("nope", nope); r.code == 0 || !strings.Contains(r.stderr, `"nope"`) {
			t.Errorf("crl --ca nope: want a failure naming it:\n%s", r)
		}
		wantFile(t, nope, nil)
		before := readCRL(t, pki("admin.crl")).Number
		if r := crl("admin", rootCRL); r.code == 0 || !strings.Contains(r.stderr, "exists") {
			t.Errorf("crl with an existing --out: want a failure:\n%s", r)
		}
		wantFile(t, rootCRL, ceremony)
		if after := readCRL(t, pki("admin.crl")).Number; after.Cmp(before) != 0 {
			t.Errorf("a refused crl command signed a CRL: number %v -> %v", before, after)
		}
	})
}

var (
	portalLine = regexp.MustCompile(`^portal:   (http://127\.0\.0\.1:[0-9]+)/ \(`)
	adminLine  = regexp.MustCompile(`^admin:    (/.+) \(used by`)
)

// waitLine returns the first group of the first stdout line of s matching
// re, reading more of stdout as needed (bounded).
func (s *server) waitLine(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	for _, l := range s.stdout {
		if m := re.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("demo closed stdout before a line matching %s:\n%s", re, strings.Join(s.stdout, "\n"))
			}
			s.stdout = append(s.stdout, l)
			if m := re.FindStringSubmatch(l); m != nil {
				return m[1]
			}
		case <-ctx.Done():
			t.Fatalf("demo printed no line matching %s:\n%s", re, strings.Join(s.stdout, "\n"))
		}
	}
}

// fetch GETs u and requires 200.
func (s *server) fetch(t *testing.T, u string) (http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%s", u, resp.Status, err, body)
	}
	return resp.Header, body
}

// TestCertThroughService runs the officer commands while the demo serves
// and so holds the database: they must go through the admin socket, whose
// actor is the peer's credentials.
func TestCertThroughService(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := startServer(t, dir)
	portal := s.waitLine(t, portalLine)
	sock := s.waitLine(t, adminLine)
	if want := filepath.Join(dir, "admin.sock"); sock != want {
		t.Errorf("admin socket %s, want %s", sock, want)
	}
	if st, err := os.Stat(sock); err != nil || st.Mode().Type() != fs.ModeSocket {
		t.Fatalf("admin socket: %v %v", st, err)
	}
	if db, err := store.Open(filepath.Join(dir, "appliance.db"), 200*time.Millisecond); err == nil {
		db.Close()
		t.Fatal("the database opens while the service runs: the service does not hold it")
	}
	peer := fmt.Sprintf("(uid=%d,pid=", os.Getuid())
	pki := func(name string) string { return filepath.Join(dir, "pki", name) }

	path := filepath.Join(t.TempDir(), "officer.pem")
	serial, _ := issueCert(t, dir, "officer", newCSR(t, "Carol Officer"), path)
	verifyChain(t, dir, path)
	rec, _ := showCert(t, dir, serial)
	wantRecord(t, rec, "officer", store.StateIssued, store.StatusGood)
	if !strings.Contains(rec.Requester, peer) {
		t.Errorf("requester %q lacks the peer credentials %q", rec.Requester, peer)
	}
	if r := appliance(t, nil, "cert", "revoke", "--state", dir, "--serial", serial, "--reason", "superseded"); r.code != 0 {
		t.Fatalf("cert revoke:\n%s", r)
	}
	rec, _ = showCert(t, dir, serial)
	if rec.Status != store.StatusRevoked || rec.Reason != 4 || !strings.Contains(rec.RevokedBy, peer) {
		t.Errorf("after revoke: status %q reason %d by %q, want revoked, 4, by %q...", rec.Status, rec.Reason, rec.RevokedBy, peer)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cert", "revoke", "--state", dir, "--serial", serial, "--reason", "keyCompromise"}, "different"},
		{[]string{"cert", "show", "--state", dir, "--serial", "abcdef12"}, "no such certificate"},
		{[]string{"cert", "issue", "--state", dir, "--profile", "tls", "--csr", newCSR(t, "x"), "--out", filepath.Join(t.TempDir(), "x.pem")}, "DNS name"},
	} {
		if r := appliance(t, nil, tc.args...); r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("appliance %s: want exit 1 saying %q:\n%s", strings.Join(tc.args, " "), tc.want, r)
		}
	}
	crlPath := filepath.Join(t.TempDir(), "admin.crl")
	if r := appliance(t, nil, "crl", "--state", dir, "--ca", "admin", "--out", crlPath); r.code != 0 {
		t.Fatalf("crl --ca admin:\n%s", r)
	}
	signed := readCRL(t, crlPath)
	if crlReason(signed, serial) != 4 {
		t.Errorf("the CRL the command wrote does not list %s as superseded", serial)
	}

	h, body := s.fetch(t, portal+"/crl/admin.crl")
	if ct := h.Get("Content-Type"); ct != "application/pkix-crl" {
		t.Errorf("GET /crl/admin.crl: Content-Type %q", ct)
	}
	served, err := x509.ParseRevocationList(body)
	if err != nil {
		t.Fatalf("GET /crl/admin.crl: %v", err)
	}
	adminCert, rootCert := readCert(t, pki("admin.pem")), readCert(t, pki("root.pem"))
	if err := served.CheckSignatureFrom(adminCert); err != nil || crlReason(served, serial) != 4 || served.Number.Cmp(signed.Number) < 0 {
		t.Errorf("served CRL number %v (signature: %v) does not list %s as superseded or is older than %v", served.Number, err, serial, signed.Number)
	}
	if _, der := s.fetch(t, portal+"/certs/admin.der"); !bytes.Equal(der, adminCert.Raw) {
		t.Error("GET /certs/admin.der differs from pki/admin.pem")
	}
	_, rootPEM := s.fetch(t, portal+"/certs/root.pem")
	if b, _ := pem.Decode(rootPEM); b == nil || !bytes.Equal(b.Bytes, rootCert.Raw) {
		t.Errorf("GET /certs/root.pem differs from pki/root.pem:\n%s", rootPEM)
	}

	s.stop(t)
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after the service stopped: %v, want it gone", sock, err)
	}
	if recs := certRecords(t, dir); recs[serial].Status != store.StatusRevoked || len(intents(recs)) != 0 {
		t.Errorf("store after the service stopped: %+v, intents %q", recs[serial], intents(recs))
	}
}
