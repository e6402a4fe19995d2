package signing

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// pdfsig runs poppler's pdfsig on pdf with an NSS database that trusts
// root, and returns its report. pdfsig exits 0 whatever it finds, so the
// callers read the text. It is run without -no-ocsp: on poppler 22.12
// that flag also drops the trust verdict; the test certificates name no
// OCSP responder, so nothing is fetched.
func pdfsig(t testing.TB, pdf []byte, root *x509.Certificate) string {
	t.Helper()
	tool(t, "pdfsig", "poppler-utils")
	tool(t, "certutil", "libnss3-tools")
	dir := t.TempDir()
	db := "sql:" + filepath.Join(dir, "nss")
	run(t, false, "mkdir", filepath.Join(dir, "nss"))
	run(t, false, "certutil", "-N", "-d", db, "--empty-password")
	run(t, false, "certutil", "-A", "-d", db, "-n", "root", "-t", "CT,C,C", "-i", writePEM(t, dir, "root.pem", root))
	path := filepath.Join(dir, "signed.pdf")
	writeFile(t, path, pdf)
	return run(t, true, "pdfsig", "-nssdir", db, path)
}

var byteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// extract finds the last ByteRange in pdf (independently of the package's
// own parser) and returns the DER CMS in /Contents, without its zero
// padding, and the signed bytes.
func extract(t testing.TB, pdf []byte) (cms, content []byte) {
	t.Helper()
	all := byteRangeRE.FindAllSubmatch(pdf, -1)
	if len(all) == 0 {
		t.Fatal("no /ByteRange in the signed PDF")
	}
	var br [4]int
	for i := range br {
		br[i], _ = strconv.Atoi(string(all[len(all)-1][i+1]))
	}
	raw, err := hex.DecodeString(string(pdf[br[1]+1 : br[2]-1]))
	if err != nil {
		t.Fatal(err)
	}
	in := cryptobyte.String(raw)
	var el cryptobyte.String
	if !in.ReadAnyASN1Element(&el, nil) {
		t.Fatal("/Contents does not start with a DER element")
	}
	content = append(append([]byte{}, pdf[br[0]:br[1]]...), pdf[br[2]:br[2]+br[3]]...)
	return el, content
}

// opensslChecks verifies the CMS over the ByteRange content with openssl
// cms, prints its structure for the attribute checks, and verifies the
// timestamp token with openssl ts. It returns the printed structure.
func opensslChecks(t testing.TB, pdf []byte, p *testPKI) string {
	t.Helper()
	tool(t, "openssl", "openssl")
	dir := t.TempDir()
	cms, content := extract(t, pdf)
	sigPath, contentPath := filepath.Join(dir, "sig.der"), filepath.Join(dir, "content.bin")
	writeFile(t, sigPath, cms)
	writeFile(t, contentPath, content)
	root := writePEM(t, dir, "root.pem", p.root)
	out := run(t, true, "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sigPath,
		"-content", contentPath, "-CAfile", root, "-purpose", "any", "-out", filepath.Join(dir, "out"))
	if !strings.Contains(out, "Verification successful") {
		t.Errorf("openssl cms -verify:\n%s", out)
	}
	printed := run(t, false, "openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", sigPath)

	s, err := parseCMS(cms) // to pull out the token and the signature value only
	if err != nil {
		t.Fatal(err)
	}
	token := s.unsigned[oidSignatureTSToken.String()]
	if token == nil {
		t.Fatal("no signature-time-stamp token")
	}
	tokenPath := filepath.Join(dir, "token.der")
	writeFile(t, tokenPath, token)
	imprint := sha256.Sum256(s.signature)
	out = run(t, true, "openssl", "ts", "-verify", "-token_in", "-in", tokenPath,
		"-digest", hex.EncodeToString(imprint[:]), "-CAfile", root)
	if !strings.Contains(out, "Verification: OK") {
		t.Errorf("openssl ts -verify:\n%s", out)
	}
	return printed
}

// qpdfCheck runs qpdf --check on pdf.
func qpdfCheck(t testing.TB, pdf []byte) {
	t.Helper()
	tool(t, "qpdf", "qpdf")
	path := filepath.Join(t.TempDir(), "check.pdf")
	writeFile(t, path, pdf)
	if out := run(t, true, "qpdf", "--check", path); !strings.Contains(out, "No syntax or stream encoding errors") {
		t.Errorf("qpdf --check:\n%s", out)
	}
}

func wantAll(t testing.TB, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func wantNone(t testing.TB, what, text string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(text, w) {
			t.Errorf("%s has %q:\n%s", what, w, text)
		}
	}
}
