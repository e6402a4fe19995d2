package main_test

// Read-only checks of one `appliance demo --init-only` state directory:
// the layout, the chain (with openssl), zlint, and the keys on the tokens
// (with pkcs11-tool).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zlintlint "github.com/zmap/zlint/v3/lint"

	"github.com/psre/appliance/ca/lint"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func wantNames(t *testing.T, dir string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := dirNames(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("%s holds %q, want exactly %q", dir, got, want)
	}
}

func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if got := st.Mode(); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
}

func TestDemoInitLayout(t *testing.T) {
	dir := sharedDemo(t)

	wantNames(t, dir, "softhsm2.conf", "tokens", "pins", "pki", "ceremonies", "appliance.db", "transcript.jsonl", "officers")
	wantNames(t, filepath.Join(dir, "pins"), "root", "root.so", "ca", "ca.so", "users", "users.so")
	wantNames(t, filepath.Join(dir, "pki"), "root.pem", "issuing.pem", "admin.pem", "ocsp.pem",
		"ocsp-admin.pem", "root.crl", "audit.pub.pem", "console.pem", "issuing.crl", "admin.crl", "tsa.pem")
	var officerFiles []string
	for _, role := range []string{"cs", "ra", "auditor"} {
		for _, ext := range []string{".crt", ".key", ".p12", ".p12-password"} {
			officerFiles = append(officerFiles, role+ext)
		}
	}
	wantNames(t, filepath.Join(dir, "officers"), officerFiles...)
	embedded, err := fs.Glob(softhsmtestdata.Ceremonies(), "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, filepath.Join(dir, "ceremonies"), embedded...)
	// SoftHSM's file backend keeps one directory per token.
	if n := len(dirNames(t, filepath.Join(dir, "tokens"))); n != 3 {
		t.Errorf("tokens/ holds %d entries, want 3 token directories (root, ca, users)", n)
	}

	// Secrets and state are owner-only; every directory is 0700.
	for _, f := range []string{"softhsm2.conf", "appliance.db", "transcript.jsonl",
		"pins/root", "pins/ca", "pins/users", "pins/root.so", "pins/ca.so", "pins/users.so"} {
		wantMode(t, filepath.Join(dir, f), 0o600)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			wantMode(t, p, fs.ModeDir|0o700)
		case !st.Mode().IsRegular():
			t.Errorf("%s is not a regular file (%v)", rel, st.Mode())
		case strings.HasPrefix(rel, "pki"+string(filepath.Separator)) || strings.HasPrefix(rel, "officers") && strings.HasSuffix(rel, ".crt"):
			if st.Size() == 0 || st.Mode().Perm()&0o022 != 0 {
				t.Errorf("%s: size %d mode %v, want non-empty and writable by the owner only", rel, st.Size(), st.Mode())
			}
		default:
			wantMode(t, p, 0o600) // tokens, PINs, ceremonies, database, transcript
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"root", "ca", "users"} {
		pin, err := os.ReadFile(filepath.Join(dir, "pins", name))
		if err != nil {
			t.Fatal(err)
		}
		if p := strings.TrimSpace(string(pin)); len(p) < 16 {
			t.Errorf("pins/%s holds a %d-character PIN, want a random one of at least 16", name, len(p))
		}
	}

	raw, err := os.ReadFile(filepath.Join(dir, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Errorf("transcript line %d is not JSON (%v): %s", n, err, sc.Text())
			continue
		}
		step, _ := e["step"].(string)
		if step == "" {
			t.Errorf("transcript line %d has no step: %s", n, sc.Text())
		}
		steps[step]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if steps["done"] != len(embedded) || steps["failed"] != 0 {
		t.Errorf("transcript steps %v: want %d done (one per ceremony) and no failed", steps, len(embedded))
	}
}

func TestDemoChainVerifies(t *testing.T) {
	pki := filepath.Join(sharedDemo(t), "pki")
	p := func(name string) string { return filepath.Join(pki, name) }
	ok := func(args ...string) result {
		t.Helper()
		r := runCmd(t, nil, "openssl", args...)
		if r.code != 0 {
			t.Errorf("openssl %s: %s", strings.Join(args, " "), r)
		}
		return r
	}
	r := ok("verify", "-CAfile", p("root.pem"), p("issuing.pem"), p("admin.pem"))
	for _, c := range []string{"issuing.pem", "admin.pem"} {
		if !strings.Contains(r.stdout, p(c)+": OK") {
			t.Errorf("openssl verify did not report %s OK:\n%s", c, r)
		}
	}
	for _, c := range []struct{ signer, ca string }{{"ocsp.pem", "issuing.pem"}, {"ocsp-admin.pem", "admin.pem"}} {
		r := ok("verify", "-CAfile", p("root.pem"), "-untrusted", p(c.ca), p(c.signer))
		if !strings.Contains(r.stdout, p(c.signer)+": OK") {
			t.Errorf("openssl verify did not report %s OK:\n%s", c.signer, r)
		}
	}
	// Each responder hangs off its own CA, not the other one.
	if r := runCmd(t, nil, "openssl", "verify", "-CAfile", p("root.pem"), "-untrusted", p("admin.pem"), p("ocsp.pem")); r.code == 0 {
		t.Errorf("ocsp.pem verifies with admin.pem as its CA:\n%s", r)
	}
	r = ok("crl", "-inform", "DER", "-in", p("root.crl"), "-CAfile", p("root.pem"), "-noout")
	if !strings.Contains(r.stdout+r.stderr, "verify OK") {
		t.Errorf("openssl crl did not say verify OK:\n%s", r)
	}
}

// zlintFailures runs plain zlint (every registered lint) and names each
// error, warning or fatal result not in lint.Skipped.
func zlintFailures(rs *zlint.ResultSet) []string {
	var bad []string
	for name, res := range rs.Results {
		if _, skipped := lint.Skipped[name]; skipped {
			continue
		}
		switch res.Status {
		case zlintlint.Warn, zlintlint.Error, zlintlint.Fatal:
			bad = append(bad, fmt.Sprintf("%s (%s): %s", name, res.Status, res.Details))
		}
	}
	sort.Strings(bad)
	return bad
}

func TestDemoCertificatesZlintClean(t *testing.T) {
	pki := filepath.Join(sharedDemo(t), "pki")
	linter, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	pems, err := filepath.Glob(filepath.Join(pki, "*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var certs []string
	for _, path := range pems {
		rest, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			name := fmt.Sprintf("%s#%d", filepath.Base(path), i)
			certs = append(certs, filepath.Base(path))
			c, err := zx509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Errorf("%s: zcrypto cannot parse it: %v", name, err)
				continue
			}
			if filepath.Base(path) == "console.pem" {
				// The console's own certificate: the tls profile, linted
				// without the public-web sources (ca/lint SkippedSourcesForTLS).
				if err := linter.PrivateTLSCertificate(block.Bytes); err != nil {
					t.Errorf("%s: project linter: %v", name, err)
				}
				continue
			}
			if err := linter.Certificate(block.Bytes); err != nil {
				t.Errorf("%s: project linter: %v", name, err)
			}
			rs := zlint.LintCertificate(c)
			if len(rs.Results) == 0 {
				t.Errorf("%s: zlint ran no lints", name)
			}
			if bad := zlintFailures(rs); len(bad) > 0 {
				t.Errorf("%s (%s): zlint findings:\n  %s", name, c.Subject.CommonName, strings.Join(bad, "\n  "))
			}
		}
	}
	sort.Strings(certs)
	want := []string{"admin.pem", "console.pem", "issuing.pem", "ocsp-admin.pem", "ocsp.pem", "root.pem", "tsa.pem"}
	if !reflect.DeepEqual(certs, want) {
		t.Errorf("certificates found in pki/: %q, want one in each of %q", certs, want)
	}

	// The root's CRL covers CA certificates only (12-month nextUpdate).
	crl, err := os.ReadFile(filepath.Join(pki, "root.crl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := linter.RevocationList(crl, true); err != nil {
		t.Errorf("root.crl: project linter: %v", err)
	}
}

const protectedAccess = "sensitive, always sensitive, never extractable"

// wantProtectedKeys requires exactly the labels in want (once each), every
// object with the protected access flags.
func wantProtectedKeys(t *testing.T, token, typ string, objs []p11Object, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := labels(objs); !reflect.DeepEqual(got, want) {
		t.Errorf("token %s --type %s: labels %q, want exactly %q", token, typ, got, want)
	}
	for _, o := range objs {
		if !strings.Contains(o.Access, protectedAccess) {
			t.Errorf("token %s: %s %q has access %q, want %q", token, o.Header, o.Label, o.Access, protectedAccess)
		}
		if o.ID == "" {
			t.Errorf("token %s: %q has no CKA_ID", token, o.Label)
		}
	}
}

func TestDemoTokenKeysProtected(t *testing.T) {
	dir := sharedDemo(t)
	wantProtectedKeys(t, "ca", "privkey", listObjects(t, dir, "ca", "privkey"),
		"issuing-ca", "admin-ca", "ocsp-issuing", "ocsp-admin", "audit", "console-tls", "tsa")
	wantProtectedKeys(t, "ca", "secrkey", listObjects(t, dir, "ca", "secrkey"), "kek")
	wantProtectedKeys(t, "root", "privkey", listObjects(t, dir, "root", "privkey"), "root-ca")
	wantProtectedKeys(t, "root", "secrkey", listObjects(t, dir, "root", "secrkey"))
	if objs := listObjects(t, dir, "users", ""); len(objs) != 0 {
		t.Errorf("token users holds %d objects after init, want none: %q", len(objs), labels(objs))
	}
}
