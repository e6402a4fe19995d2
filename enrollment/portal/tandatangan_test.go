package portal_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// TestTandatanganFlow walks seed step 21 through the pages: upload, the
// document's facts and preview, the placement, the SMS code naming the
// document, a wrong password, the signature, the download (once) and the
// signature log on the profile.
func TestTandatanganFlow(t *testing.T) {
	s := newSigningEnv(t)
	b := s.b
	pg := b.get("/tandatangan")
	strict(t, pg)
	if pg.status != http.StatusOK || !strings.Contains(pg.body, `id="upload-form"`) || strings.Contains(pg.body, `id="sign-form"`) {
		t.Fatalf("GET /tandatangan: %d\n%s", pg.status, pg.body)
	}
	if nav := b.get("/account"); !strings.Contains(nav.body, `id="nav-tandatangan" href="/tandatangan"`) {
		t.Error("the account menu has no Tandatangan link")
	}

	doc := pdfWithID(2, "0123456789abcdef0123456789abcdef")
	sum := sha256.Sum256(doc)
	hash := hex.EncodeToString(sum[:])
	pg = s.upload("Kontrak Kerja.pdf", doc)
	strict(t, pg)
	if pg.path != "/tandatangan" || text(pg.body, "doc-name") != "Kontrak Kerja.pdf" || text(pg.body, "doc-pages") != "2" ||
		text(pg.body, "doc-sha256") != hash || !strings.Contains(pg.body, `src="/tandatangan/preview.png?page=1&amp;pos=bottom-right"`) {
		t.Fatalf("after the upload: %s %d\n%s", pg.path, pg.status, pg.body)
	}
	img := b.get("/tandatangan/preview.png?page=2&pos=top-left")
	if img.header.Get("Content-Type") != "image/png" {
		t.Fatalf("preview: %d %s", img.status, img.header.Get("Content-Type"))
	}
	if cfg, err := png.DecodeConfig(strings.NewReader(img.body)); err != nil || max(cfg.Width, cfg.Height) != 1000 {
		t.Errorf("preview: %v %+v", err, cfg)
	}
	if p := b.get("/tandatangan/preview.png?page=3"); p.status != http.StatusNotFound {
		t.Errorf("preview of page 3 of 2: %d", p.status)
	}

	pg = b.get("/tandatangan?page=2&pos=top-left")
	if !strings.Contains(pg.body, `id="doc-placement">Tanda tangan dibubuhkan di halaman 2, Kiri atas.</figcaption>`) {
		t.Errorf("placement not shown:\n%s", pg.body)
	}
	pg = b.post("/tandatangan/kode", docForm(doc, "2", "top-left"))
	if pg.path != "/tandatangan" || text(pg.body, "flash") != mustText(t, s.env, "id", "tandatangan.code_sent_flash") ||
		text(pg.body, "code-target") != fmt.Sprintf(mustText(t, s.env, "id", "tandatangan.code_sent"), "+62812****7890") {
		t.Fatalf("after Kirim kode OTP: %s %d\n%s", pg.path, pg.status, pg.body)
	}
	sms := s.signingSMS(budiPhone)
	if len(sms) != 1 || sms[0]["Purpose"] != "Kontrak Kerja.pdf (SHA-256 "+hash[:12]+"…)" {
		t.Fatalf("signing SMS: %v", sms)
	}
	code := s.code("otp_sms", budiPhone)

	pg = b.post("/tandatangan/tandatangani", signForm(doc, "2", "top-left", "salah-password-ini", code))
	if pg.status != http.StatusUnprocessableEntity || text(pg.body, "tandatangan-error") != mustText(t, s.env, "id", "tandatangan.password_wrong") {
		t.Errorf("wrong password: %d %q", pg.status, text(pg.body, "tandatangan-error"))
	}
	if len(s.signer.requests()) != 0 || len(s.signatures()) != 0 {
		t.Fatal("a refused password reached the signer")
	}

	pg = b.post("/tandatangan/tandatangani", signForm(doc, "2", "top-left", s.a.password, code[:3]+" "+code[3:]))
	strict(t, pg)
	if pg.path != "/tandatangan" || text(pg.body, "flash") != mustText(t, s.env, "id", "tandatangan.signed") ||
		text(pg.body, "signed-name") != "Kontrak Kerja-signed.pdf" || text(pg.body, "signed-timestamp") != "7F3A9C" {
		t.Fatalf("after Tandatangani: %s %d\n%s", pg.path, pg.status, pg.body)
	}
	reqs := s.signer.requests()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].PDF, doc) || reqs[0].Page != 2 || reqs[0].Name != s.a.name || len(reqs[0].Specimen) == 0 {
		t.Fatalf("sign requests: %d", len(reqs))
	}
	// An A4 page (595×842) viewed upright: top-left box 36 points in.
	if want := [4]float64{36, 842 - 36 - 70, 36 + 180, 842 - 36}; reqs[0].Rect != want {
		t.Errorf("rect %v, want %v", reqs[0].Rect, want)
	}

	dl := b.get("/tandatangan/signed.pdf")
	if dl.status != http.StatusOK || dl.header.Get("Content-Type") != "application/pdf" ||
		dl.header.Get("Content-Disposition") != `attachment; filename="Kontrak Kerja-signed.pdf"` || dl.body != string(doc)+"%signed\n" {
		t.Fatalf("download: %d %v", dl.status, dl.header)
	}
	if again := b.get("/tandatangan/signed.pdf"); again.status != http.StatusNotFound {
		t.Errorf("second download: %d", again.status)
	}

	// The same code again: consumed, refused, nothing signed.
	pg = b.post("/tandatangan/tandatangani", signForm(doc, "2", "top-left", s.a.password, code))
	if pg.status != http.StatusUnprocessableEntity || text(pg.body, "tandatangan-error") != mustText(t, s.env, "id", "otp.none") ||
		len(s.signer.requests()) != 1 {
		t.Errorf("code used twice: %d %q", pg.status, text(pg.body, "tandatangan-error"))
	}

	list := s.signatures()
	if len(list) != 1 || list[0].State != store.SignatureDone || list[0].DocumentHash != hash || list[0].TimestampSerial != fakeTimestampSerial {
		t.Fatalf("signature log: %+v", list)
	}
	prof := b.get("/account/profile")
	row := text(prof.body, "signatures")
	for _, want := range []string{"Kontrak Kerja.pdf", hash[:16], "7F3A9C", "WIB"} {
		if !strings.Contains(row, want) {
			t.Errorf("profile signature log lacks %q: %q", want, row)
		}
	}
}

// TestTandatanganRefusals: who may not sign, what may not be uploaded,
// a code for another document, a replaced document, forms without CSRF.
func TestTandatanganRefusals(t *testing.T) {
	s := newSigningEnv(t)
	b := s.b

	anon := s.browser()
	if pg := anon.get("/tandatangan"); pg.path != "/login" {
		t.Errorf("logged out: landed on %s", pg.path)
	}
	other, _ := s.signedIn(siti())
	pg := other.get("/tandatangan")
	if pg.status != http.StatusConflict || text(pg.body, "tandatangan-refusal") != mustText(t, s.env, "id", "tandatangan.not_issued") ||
		strings.Contains(pg.body, `id="upload-form"`) {
		t.Errorf("not issued: %d\n%s", pg.status, pg.body)
	}
	if pg := other.postFiles("/tandatangan", nil, false, file{"pdf", "a.pdf", minimalPDF(1, "")}); pg.status != http.StatusConflict {
		t.Errorf("upload while not issued: %d", pg.status)
	}

	for _, c := range []struct {
		name string
		data []byte
		key  string
	}{
		{"gambar.pdf", pngImage(t, 10, 10), "signing.not_pdf"},
		{"kunci.pdf", minimalPDF(1, encryptTrailer), "signing.encrypted"},
		{"potong.pdf", minimalPDF(1, "")[:200], "signing.broken"},
		{"", nil, "tandatangan.file_required"},
	} {
		pg := s.upload(c.name, c.data)
		if pg.status != http.StatusUnprocessableEntity || text(pg.body, "tandatangan-error") != mustText(t, s.env, "id", c.key) {
			t.Errorf("upload %s: %d %q, want %s", c.name, pg.status, text(pg.body, "tandatangan-error"), c.key)
		}
	}
	b.get("/tandatangan?lang=en")
	if pg := s.upload("gambar.pdf", pngImage(t, 10, 10)); text(pg.body, "tandatangan-error") != mustText(t, s.env, "en", "signing.not_pdf") {
		t.Errorf("English refusal: %q", text(pg.body, "tandatangan-error"))
	}
	b.get("/tandatangan?lang=id")

	docA, docB := pdfWithID(1, strings.Repeat("aa", 16)), pdfWithID(1, strings.Repeat("bb", 16))
	s.upload("a.pdf", docA)
	if pg := b.post("/tandatangan/kode", docForm(docB, "1", "bottom-left")); pg.status != http.StatusConflict ||
		text(pg.body, "tandatangan-error") != mustText(t, s.env, "id", "tandatangan.document_changed") {
		t.Errorf("code asked from a stale page: %d %q", pg.status, text(pg.body, "tandatangan-error"))
	}
	b.post("/tandatangan/kode", docForm(docA, "1", "bottom-left"))
	codeA := s.code("otp_sms", budiPhone)
	s.upload("b.pdf", docB)
	pg = b.post("/tandatangan/tandatangani", signForm(docB, "1", "bottom-left", s.a.password, codeA))
	if pg.status != http.StatusUnprocessableEntity || text(pg.body, "tandatangan-error") != fmt.Sprintf(mustText(t, s.env, "id", "otp.wrong"), 4) {
		t.Errorf("A's code on B: %d %q", pg.status, text(pg.body, "tandatangan-error"))
	}
	if pg := b.post("/tandatangan/kode", docForm(docB, "1", "bottom-left")); pg.status != http.StatusTooManyRequests || pg.header.Get("Retry-After") == "" {
		t.Errorf("second code within a minute: %d", pg.status)
	}
	if pg := b.postFiles("/tandatangan", nil, true, file{"pdf", "a.pdf", docA}); pg.status != http.StatusForbidden {
		t.Errorf("upload without CSRF token: %d", pg.status)
	}
	if len(s.signer.requests()) != 0 || len(s.signatures()) != 0 {
		t.Fatal("a refusal reached the signer")
	}

	// Revoked (the certificate record, as `appliance cert revoke` does):
	// the page says so and the service refuses too.
	s.ageCode(s.id, enrollment.PurposeSign, 2*time.Minute)
	serial := s.app(s.id).Certificate.Serial
	if _, _, err := s.db.Revoke(serial, store.Revocation{Reason: 1, Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	pg = b.get("/tandatangan")
	if pg.status != http.StatusConflict || text(pg.body, "tandatangan-refusal") != mustText(t, s.env, "id", "tandatangan.revoked") {
		t.Errorf("revoked: %d %q", pg.status, text(pg.body, "tandatangan-refusal"))
	}
	if _, err := s.svc.SendSigningCode(t.Context(), s.id, make([]byte, 32), "x.pdf"); !errors.Is(err, enrollment.ErrCertificateNotUsable) {
		t.Errorf("service, revoked: %v", err)
	}
	if pg := b.post("/tandatangan/tandatangani", url.Values{"document": {"x"}}); pg.status != http.StatusConflict {
		t.Errorf("sign while revoked: %d", pg.status)
	}
	if len(s.signer.requests()) != 0 || len(s.signatures()) != 0 {
		t.Fatal("a revoked certificate signed")
	}
}
