package portal_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/enrollment/portal"
	"github.com/psre/appliance/enrollment/upload"
)

var idMonths = []string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"}

// TestVerificationAndPayment: "Ajukan Verifikasi" with its flash and
// email, the invoice on the account page and on its printable page, proof
// refusals in both languages that change nothing, a PDF proof, CS's
// refusal with its reason, then a photo as proof.
func TestVerificationAndPayment(t *testing.T) {
	e := newEnv(t)
	s := e.staff()
	b, id := e.signedIn(budi())

	pg := b.get("/account")
	if !strings.Contains(pg.body, `data-state="registered"`) || !strings.Contains(pg.body, `id="request-verification"`) ||
		!strings.Contains(pg.body, e.msg("id", "verification.button")) {
		t.Fatalf("account page in registered:\n%s", pg.body)
	}
	before := e.snapshot(id)
	pg = b.postRaw("/account/verification", "application/x-www-form-urlencoded", strings.NewReader(""), nil)
	if pg.status != http.StatusForbidden || e.snapshot(id) != before {
		t.Fatalf("verification without CSRF token: %d, changed: %v", pg.status, e.snapshot(id) != before)
	}
	pg = b.post("/account/verification", nil)
	if pg.path != "/account" || !strings.Contains(pg.body, `data-state="verification_requested"`) ||
		text(pg.body, "flash") != mustText(t, e, "id", "flash.verification_requested") {
		t.Fatalf("after Ajukan Verifikasi: %s\n%s", pg.path, pg.body)
	}
	notes := e.notifications()
	if last := notes[len(notes)-1]; len(notes) != 1 || last.Kind != "request_received" || last.To != "budi@example.co.id" {
		t.Fatalf("acknowledgement: %+v", notes)
	}
	if pg := b.get("/account"); strings.Contains(pg.body, `id="flash"`) || strings.Contains(pg.body, `id="request-verification"`) {
		t.Error("the flash shows twice, or the button stays")
	}
	before = e.snapshot(id)
	if pg := b.post("/account/verification", nil); pg.path != "/account" || e.snapshot(id) != before {
		t.Error("a second request changed something")
	}
	if pg := b.get("/account/invoice"); pg.status != http.StatusNotFound || !strings.Contains(pg.body, e.msg("id", "invoice.none")) {
		t.Errorf("invoice page before the invoice: %d", pg.status)
	}

	e.must(e.svc.IssueInvoice(t.Context(), s.cs, id))
	inv := e.app(id).Invoice
	jakarta, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Fatal(err)
	}
	due := inv.Due.In(jakarta)
	want := map[string]string{"invoice-number": inv.Number, "invoice-amount": "Rp 150.000", "invoice-bank": "Bank Contoh",
		"invoice-account-number": "1234567890", "invoice-account-name": "PT PSrE Contoh", "invoice-virtual-account": inv.VirtualAccount,
		"invoice-reference": inv.Reference,
		"invoice-due":       fmt.Sprintf("%d %s %d pukul %s WIB", due.Day(), idMonths[due.Month()-1], due.Year(), due.Format("15.04"))}
	for _, path := range []string{"/account", "/account/invoice"} {
		pg := b.get(path)
		strict(t, pg)
		for field, v := range want {
			if got := text(pg.body, field); got != v {
				t.Errorf("%s: %s is %q, want %q", path, field, got, v)
			}
		}
	}
	pg = b.get("/account")
	if !strings.Contains(pg.body, `href="/account/invoice"`) || !strings.Contains(pg.body, `id="proof-form"`) {
		t.Error("the account page lacks the invoice link or the proof form")
	}
	pg = b.get("/account/invoice?lang=en")
	if got, w := text(pg.body, "invoice-due"), fmt.Sprintf("%d %s %d, %s WIB", due.Day(), due.Month(), due.Year(), due.Format("15:04")); got != w {
		t.Errorf("English due date %q, want %q", got, w)
	}

	refusals := []struct {
		name   string
		files  []file
		status int
		key    string
	}{
		{"GIF", []file{{"proof", "bukti.gif", gifImage(t)}}, http.StatusUnprocessableEntity, "upload.not_proof"},
		{"encrypted PDF", []file{{"proof", "bukti.pdf", minimalPDF(1, encryptTrailer)}}, http.StatusUnprocessableEntity, "upload.pdf_encrypted"},
		{"broken PDF", []file{{"proof", "bukti.pdf", []byte("%PDF-1.7\n%%EOF\n")}}, http.StatusUnprocessableEntity, "upload.pdf_corrupt"},
		{"over 5 MB", []file{{"proof", "bukti.pdf", append(minimalPDF(1, ""), make([]byte, upload.MaxBytes)...)}}, http.StatusUnprocessableEntity, "upload.too_large"},
		{"no file", nil, http.StatusUnprocessableEntity, "proof.missing"},
		{"6 MB request", []file{{"proof", "bukti.jpg", bytes.Repeat([]byte{0xff}, 6<<20)}}, http.StatusRequestEntityTooLarge, "error.too_large"},
	}
	for _, lang := range []string{"id", "en"} {
		b.get("/account?lang=" + lang)
		for _, r := range refusals {
			before := e.snapshot(id)
			pg := b.postFiles("/account/payment-proof", nil, false, r.files...)
			if pg.status != r.status || !strings.Contains(pg.body, e.msg(lang, r.key)) {
				t.Errorf("%s, %s: %d, want %d with %s", lang, r.name, pg.status, r.status, r.key)
			}
			if r.status == http.StatusUnprocessableEntity && text(pg.body, "f-proof-error") != mustText(t, e, lang, r.key) {
				t.Errorf("%s, %s: the message is not at the proof field", lang, r.name)
			}
			if e.snapshot(id) != before {
				t.Errorf("%s, %s: a refused proof changed the application", lang, r.name)
			}
		}
	}
	b.get("/account?lang=id")
	pdf := minimalPDF(2, "")
	before = e.snapshot(id)
	if pg := b.postFiles("/account/payment-proof", nil, true, file{"proof", "bukti.pdf", pdf}); pg.status != http.StatusForbidden || e.snapshot(id) != before {
		t.Fatalf("proof without CSRF token: %d", pg.status)
	}

	pg = b.postFiles("/account/payment-proof", nil, false, file{"proof", "bukti.pdf", pdf})
	if pg.path != "/account" || !strings.Contains(pg.body, `data-state="payment_submitted"`) ||
		text(pg.body, "flash") != mustText(t, e, "id", "flash.proof_received") || !strings.Contains(pg.body, `id="proof-received"`) ||
		text(pg.body, "invoice-number") != inv.Number || strings.Contains(pg.body, `id="proof-form"`) {
		t.Fatalf("after the PDF proof: %s\n%s", pg.path, pg.body)
	}
	if p := e.app(id).PaymentProof; p == nil || p.ContentType != "application/pdf" || p.Size != len(pdf) {
		t.Fatalf("stored proof %+v", p)
	}
	before = e.snapshot(id)
	if pg := b.postFiles("/account/payment-proof", nil, false, file{"proof", "bukti.pdf", pdf}); pg.path != "/account" || e.snapshot(id) != before {
		t.Error("a second proof while CS checks the first changed something")
	}

	reason := "Nominal transfer tidak sesuai tagihan"
	e.must(e.svc.RejectPayment(t.Context(), s.cs, id, reason))
	pg = b.get("/account")
	if !strings.Contains(pg.body, `data-state="awaiting_payment"`) || text(pg.body, "payment-rejection-reason") != reason {
		t.Fatalf("after CS refused the proof:\n%s", pg.body)
	}
	pg = b.postFiles("/account/payment-proof", url.Values{}, false, file{"proof", "bukti.jpg", jpegImage(t, 800, 600)})
	if pg.path != "/account" || !strings.Contains(pg.body, `data-state="payment_submitted"`) || strings.Contains(pg.body, reason) {
		t.Fatalf("after the photo proof: %s\n%s", pg.path, pg.body)
	}
	if p := e.app(id).PaymentProof; p == nil || p.ContentType != "image/jpeg" {
		t.Fatalf("stored proof %+v", p)
	}
	e.must(e.svc.ConfirmPayment(t.Context(), s.cs, id))
	if pg := b.get("/account"); !strings.Contains(pg.body, `data-state="ra_review"`) || text(pg.body, "account-next") != mustText(t, e, "id", "next.ra_review") {
		t.Errorf("after CS confirmed: %s", text(pg.body, "account-next"))
	}
}

// mustText is the catalog text of key, as text() reads it from a page.
func mustText(t *testing.T, e *env, lang, key string) string {
	t.Helper()
	s, ok := portal.Message(e.p, lang, key)
	if !ok {
		t.Fatalf("no message %q in %s", key, lang)
	}
	return s
}
