package main

// Helpers of the signing end-to-end test (signing_e2e_test.go): an SMS
// gateway that hands each message over as it arrives, the activation over
// HTTP, test PDFs that qpdf and poppler accept, and the extraction of the
// CMS and its timestamp token for openssl (independent of package signing).

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/digitorus/pkcs7"
	"golang.org/x/crypto/cryptobyte"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/signing"
)

// sgSMS is one SMS; the service's body template is {"to":…, "text":…}.
type sgSMS struct{ To, Text string }

type sgSMSSink struct {
	srv     *httptest.Server
	arrived chan sgSMS
}

func sgNewSMSSink(t *testing.T) *sgSMSSink {
	t.Helper()
	s := &sgSMSSink{arrived: make(chan sgSMS, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m sgSMS
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &m); err != nil {
			m.Text = "unreadable body: " + string(b)
		}
		s.arrived <- m
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

var sgCodeRE = regexp.MustCompile(`kode OTP Anda ([0-9]{6})\b`)

// next waits for the next SMS, requires it to go to phone with a code,
// and returns its text and code.
func (s *sgSMSSink) next(t *testing.T, phone string) (text, code string) {
	t.Helper()
	select {
	case m := <-s.arrived:
		c := sgCodeRE.FindStringSubmatch(m.Text)
		if m.To != phone || c == nil {
			t.Fatalf("SMS to %s: %q; want a code to %s", m.To, m.Text, phone)
		}
		return m.Text, c[1]
	case <-rvWaitBound():
		t.Fatalf("no SMS within %v", rvTimeout)
	}
	return "", ""
}

// none requires that no SMS is waiting.
func (s *sgSMSSink) none(t *testing.T, when string) {
	t.Helper()
	select {
	case m := <-s.arrived:
		t.Errorf("%s: unexpected SMS to %s: %q", when, m.To, m.Text)
	default:
	}
}

var sgMailCodeRE = regexp.MustCompile(`Kode verifikasi \(OTP\) Anda adalah:\s+([0-9]{6})\s`)

// sgActivate takes an approved applicant from the activation link to an
// issued certificate: "Aktivasi", the email code, the SMS code and both
// consents.
func sgActivate(t *testing.T, c *rvClient, a rvApplicant, phone, link string, relay *rvRelay, sms *sgSMSSink) {
	t.Helper()
	token := strings.TrimPrefix(link, c.base+"/aktivasi?token=")
	c.must("the activation link", c.get(link), http.StatusOK, "")
	c.must("Aktivasi", c.postForm("/aktivasi", url.Values{"token": {token}}), http.StatusSeeOther, "/aktivasi/email")
	c.must("GET /aktivasi/email", c.get("/aktivasi/email"), http.StatusOK, "")
	m := sgMailCodeRE.FindStringSubmatch(relay.next(t).Text)
	if m == nil {
		t.Fatal("the email after Aktivasi holds no code")
	}
	c.must("the email code", c.postForm("/aktivasi/email", url.Values{"code": {m[1]}}), http.StatusSeeOther, "/aktivasi/telepon")
	c.must("GET /aktivasi/telepon", c.get("/aktivasi/telepon"), http.StatusOK, "")
	_, code := sms.next(t, phone)
	c.must("the SMS code", c.postForm("/aktivasi/telepon", url.Values{"code": {code}, "consent_issuance": {"on"},
		"consent_ownership": {"on"}, "issuance_version": {currentConsents.Issuance}, "ownership_version": {currentConsents.Ownership}}),
		http.StatusSeeOther, "/account/profile")
	if m := relay.next(t); m.To != a.email { // the certificate-issued email
		t.Fatalf("the email after issuance went to %s", m.To)
	}
}

// sgPDF is a PDF 1.4 of A4 pages with a line of text each and a document
// ID (as signing's own test PDFs), which qpdf and poppler accept.
func sgPDF(texts ...string) []byte {
	n := len(texts)
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>"}
	kids := make([]string, n)
	for i := range texts {
		kids[i] = fmt.Sprintf("%d 0 R", 3+2*i)
	}
	objs = append(objs, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	for i, text := range texts {
		content := fmt.Sprintf("BT /F1 24 Tf 72 742 Td (%s) Tj ET", text)
		objs = append(objs, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>",
			4+2*i, 3+2*n), fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	objs = append(objs, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

var sgByteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// sgExtract finds the last /ByteRange of pdf and returns the DER CMS of
// /Contents (without its zero padding) and the bytes it signs.
func sgExtract(t *testing.T, pdf []byte) (cms, content []byte) {
	t.Helper()
	all := sgByteRangeRE.FindAllSubmatch(pdf, -1)
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

// sgToken returns the signature-time-stamp token of the CMS's signer and
// the signature value it must cover.
func sgToken(t *testing.T, cms []byte) (token, signature []byte) {
	t.Helper()
	p7, err := pkcs7.Parse(cms)
	if err != nil || len(p7.Signers) != 1 {
		t.Fatalf("CMS: %v, %d signers", err, len(p7.Signers))
	}
	for _, a := range p7.Signers[0].UnauthenticatedAttributes {
		if a.Type.String() == "1.2.840.113549.1.9.16.2.14" {
			var first asn1.RawValue // the attribute's SET holds one token
			if _, err := asn1.Unmarshal(a.Value.Bytes, &first); err != nil {
				t.Fatalf("signature-time-stamp attribute: %v", err)
			}
			return first.FullBytes, p7.Signers[0].EncryptedDigest
		}
	}
	t.Fatal("no signature-time-stamp token in the CMS")
	return nil, nil
}

// sgRun runs a tool and returns its combined output; the tools print
// their verdicts, which the callers read.
func sgRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed: %v", name, err)
	}
	out, _ := exec.Command(name, args...).CombinedOutput()
	return string(out)
}

// sgWrite writes b to dir/name and returns the path.
func sgWrite(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSigningRefusedWithoutTSA: no timestamp authority, no signature; a
// token without a TSTInfo gives no serial.
func TestSigningRefusedWithoutTSA(t *testing.T) {
	if _, _, err := (&documentSigner{}).SignPDF(t.Context(), enrollment.SignRequest{PDF: sgPDF("x")}); !errors.Is(err, errNoTSA) {
		t.Errorf("without a TSA: %v", err)
	}
	for _, token := range [][]byte{nil, {0x30, 0x00}, {0x30, 0x03, 0x06, 0x01, 0x00}} {
		if s, err := tokenSerial(token); !errors.Is(err, signing.ErrTimestamp) {
			t.Errorf("tokenSerial(%x) = %v, %v", token, s, err)
		}
	}
}
