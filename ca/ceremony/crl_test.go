package ceremony_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca/ceremony"
)

// crlTwoRevoked is crlYAML as CRL number 1 with two revoked entries.
func crlTwoRevoked(t *testing.T) string {
	return edit(t, crlYAML,
		"      reason: keyCompromise\n", "      reason: keyCompromise\n    - serial: 7EDCBA9876543210AA\n      revoked_at: 2026-02-03T04:05:06Z\n      reason: cessationOfOperation\n")
}

// TestCRLCeremonies signs a root CRL with two revocations, checks it with
// openssl and crypto/x509, then a second CRL that follows it.
func TestCRLCeremonies(t *testing.T) {
	f := newFixture(t, "root")
	f.mustRun("root.yaml", rootYAML)
	rootPath, crlPath := filepath.Join(f.pki, "root.pem"), filepath.Join(f.pki, "root.crl")
	root := readCert(t, rootPath)
	start := time.Now().Truncate(time.Second)
	res := f.mustRun("crl1.yaml", crlTwoRevoked(t))

	if out := openssl(t, "crl", "-inform", "DER", "-in", crlPath, "-CAfile", rootPath, "-noout"); !strings.Contains(out, "verify OK") {
		t.Errorf("openssl crl verify: %s", out)
	}
	text := openssl(t, "crl", "-inform", "DER", "-in", crlPath, "-noout", "-text")
	for _, re := range []string{
		`X509v3 CRL Number:\s*\n\s*1\n`,
		`Serial Number: 0123456789ABCDEF01\s*\n\s*Revocation Date: Jan  2 03:04:05 2026 GMT\s*\n\s*CRL entry extensions:\s*\n\s*X509v3 CRL Reason Code:\s*\n\s*Key Compromise`,
		`Serial Number: 7EDCBA9876543210AA\s*\n\s*Revocation Date: Feb  3 04:05:06 2026 GMT\s*\n\s*CRL entry extensions:\s*\n\s*X509v3 CRL Reason Code:\s*\n\s*Cessation Of Operation`,
		`Issuer: C = ID, O = PT Uji Sertifikasi, CN = Uji Root CA G1`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("openssl crl -text does not match %s:\n%s", re, text)
		}
	}

	der, err := os.ReadFile(crlPath) // .crl is written as DER
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(root); err != nil {
		t.Error(err)
	}
	if crl.Number.Cmp(big.NewInt(1)) != 0 || !bytes.Equal(crl.AuthorityKeyId, root.SubjectKeyId) || !bytes.Equal(crl.RawIssuer, root.RawSubject) {
		t.Errorf("number %v, AKI %x (root SKI %x)", crl.Number, crl.AuthorityKeyId, root.SubjectKeyId)
	}
	if crl.ThisUpdate.Before(start) || crl.NextUpdate.Sub(crl.ThisUpdate) != 365*24*time.Hour {
		t.Errorf("thisUpdate %s nextUpdate %s", crl.ThisUpdate, crl.NextUpdate)
	}
	type entry struct {
		serial string
		at     time.Time
		reason int
	}
	var got []entry
	for _, e := range crl.RevokedCertificateEntries {
		got = append(got, entry{e.SerialNumber.Text(16), e.RevocationTime.UTC(), e.ReasonCode})
	}
	want := []entry{
		{"123456789abcdef01", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 1},
		{"7edcba9876543210aa", time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC), 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries %+v, want %+v", got, want)
	}
	if w := map[string]string{crlPath: sha256hex(der)}; !reflect.DeepEqual(res.Outputs, w) {
		t.Errorf("outputs %v, want %v", res.Outputs, w)
	}

	// The next CRL follows the first and is written as PEM.
	crl2Path := filepath.Join(f.pki, "root-2.pem")
	second := edit(t, crlYAML, "  number: 1\n", "  number: 2\n  previous: root.crl\n", "crl: root.crl", "crl: root-2.pem")
	f.mustRun("crl2.yaml", second)
	if out := openssl(t, "crl", "-in", crl2Path, "-CAfile", rootPath, "-noout"); !strings.Contains(out, "verify OK") {
		t.Errorf("openssl crl verify: %s", out)
	}
	crl2, err := x509.ParseRevocationList(readDER(t, crl2Path, "X509 CRL"))
	if err != nil || crl2.Number.Int64() != 2 || len(crl2.RevokedCertificateEntries) != 1 {
		t.Errorf("second CRL: %v", err)
	}

	// A CRL whose number does not grow past the previous (PEM) one is
	// refused by validation; nothing is written.
	before := snapshot(t, f.pki)
	_, _, err = f.runIn(f.pki, "crl3.yaml", edit(t, crlYAML, "  number: 1\n", "  number: 2\n  previous: root-2.pem\n", "crl: root.crl", "crl: root-3.crl"))
	if !errors.Is(err, ceremony.ErrInvalidConfig) || !strings.Contains(err.Error(), "2 must be greater than the previous CRL's number 2") {
		t.Errorf("equal number: want ErrInvalidConfig, got %v", err)
	}
	mustNotExist(t, filepath.Join(f.pki, "root-3.crl"))
	after := snapshot(t, f.pki)
	delete(after, filepath.Join(f.pki, "crl3.yaml"))
	if !reflect.DeepEqual(after, before) {
		t.Errorf("a refused CRL ceremony changed files")
	}
}

// TestSubordinateCRL signs an issuing CA's CRL (nextUpdate 7 days, within
// the 10 days CA/B BR 4.9.7 allows for CRLs of subscriber certificates); it
// verifies against the issuing CA and not against the root.
func TestSubordinateCRL(t *testing.T) {
	f := newFixture(t, "root", "ca")
	f.mustRun("root.yaml", rootYAML)
	f.mustRun("sub.yaml", subYAML)
	subCRL := edit(t, crlYAML, "root: file:{{.Pins}}/root", "ca: file:{{.Pins}}/ca", "token=root;object=root-ca", "token=ca;object=issuing-ca",
		"{{.PKI}}/root.pem", "{{.PKI}}/sub.pem", "crl: root.crl", "crl: sub.crl")

	// A CRL covering subscriber certificates may not reach 10 days ahead
	// (CA/B Forum BR 4.9.7); only a root's CRL may (12 months).
	_, _, err := f.runIn(t.TempDir(), "sub-crl-30.yaml", edit(t, subCRL, "next_update_days: 365", "next_update_days: 30"))
	if err == nil || !strings.Contains(err.Error(), "e_crl_next_update_invalid") {
		t.Fatalf("a subordinate CRL with nextUpdate in 30 days: %v, want e_crl_next_update_invalid", err)
	}
	f.mustRun("sub-crl.yaml", edit(t, subCRL, "next_update_days: 365", "next_update_days: 7"))
	wrong := exec.Command("openssl", "crl", "-inform", "DER", "-in", filepath.Join(f.pki, "sub.crl"), "-CAfile", filepath.Join(f.pki, "root.pem"), "-noout")
	if out, err := wrong.CombinedOutput(); err == nil || strings.Contains(string(out), "verify OK") {
		t.Errorf("the sub CA's CRL verified against the root: %s", out)
	}
	cmd := exec.Command("openssl", "crl", "-inform", "DER", "-in", filepath.Join(f.pki, "sub.crl"), "-CAfile", filepath.Join(f.pki, "sub.pem"), "-noout")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "verify OK") {
		t.Errorf("openssl crl verify against the sub CA: %v %s", err, out)
	}
}
