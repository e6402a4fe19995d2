package console_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// TestCSFlow walks one application through CS: queue, invoice, proof,
// a rejection without and with a reason, a POST without CSRF token, and
// the confirmation that forwards it to RA.
func TestCSFlow(t *testing.T) {
	e := newEnv(t, 1)
	cs := e.officer("Citra CS", store.RoleCS, "citra@psre.example")
	id := e.applicant("", false)
	e.must(e.svc.RequestVerification(e.ctx, id))
	app := "/cs/applications/" + id

	queue := cs.get("/cs/")
	expect(t, "queue", queue, 200, app, "Pemohon Nomor B")
	if i, j := strings.Index(queue.body, `id="requested"`), strings.Index(queue.body, `id="submitted"`); !(i < strings.Index(queue.body, id) && strings.Index(queue.body, id) < j) {
		t.Fatal("the request is not in the verification requests section")
	}
	page := cs.get(app)
	expect(t, "application page", page, 200, "Pemohon Nomor B", "pemohon1", "Terbitkan tagihan")
	for _, secret := range []string{"3171011208900001", "pemohon1@example.co.id", "/image/"} {
		if strings.Contains(page.body, secret) {
			t.Fatalf("CS sees %q", secret)
		}
	}
	expect(t, "proof before upload", cs.get(app+"/proof"), 404)

	r := cs.post(app+"/invoice", nil)
	expect(t, "issue invoice", r, 303)
	if loc := r.header.Get("Location"); loc != "/cs/?done=invoice_issued" {
		t.Fatalf("after the invoice: redirect to %q", loc)
	}
	expect(t, "queue with flash", cs.get("/cs/?done=invoice_issued"), 200, "Tagihan telah diterbitkan")
	if got := e.app(id); got.State != enrollment.StateAwaitingPayment || got.Invoice == nil || got.Invoice.Amount != 150000 {
		t.Fatalf("after the invoice: %+v", got)
	}
	expect(t, "page with invoice", cs.get(app), 200, "Rp 150.000", e.app(id).Invoice.Number)
	expect(t, "invoice twice", cs.post(app+"/invoice", nil), 409, "Menunggu pembayaran")

	pdf := []byte("%PDF-1.4 bukti transfer")
	e.must(e.svc.SubmitPaymentProof(e.ctx, id, pdf, "application/pdf"))
	expect(t, "queue with proof", cs.get("/cs/"), 200, app)
	proof := cs.get(app + "/proof")
	expect(t, "PDF proof", proof, 200)
	for h, want := range map[string]string{"Content-Type": "application/pdf", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if got := proof.header.Get(h); got != want {
			t.Errorf("proof %s: %q, want %q", h, got, want)
		}
	}
	if proof.body != string(pdf) || !strings.HasPrefix(proof.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("PDF proof: %q, disposition %q", proof.body, proof.header.Get("Content-Disposition"))
	}

	// A rejection needs a reason: 400, the form again, nothing changed.
	before := e.snapshot(id)
	expect(t, "reject without reason", cs.post(app+"/reject", url.Values{"reason": {"   "}}), 400, "Alasan wajib diisi", `id="form-error"`)
	// Without the CSRF token (or with a wrong one) nothing happens either.
	expect(t, "confirm without token", cs.request("POST", app+"/confirm", nil, false), 403, "Formulir kedaluwarsa")
	expect(t, "confirm with a wrong token", cs.request("POST", app+"/confirm", url.Values{"csrf_token": {"AAAA" + cs.token[4:]}}, false), 403)
	if e.snapshot(id) != before {
		t.Fatal("a refused request changed the application")
	}
	if n := e.counter("appliance_console_auth_failures_total", map[string]string{"reason": "csrf"}); n != 2 {
		t.Fatalf("CSRF failures counted: %v", n)
	}

	expect(t, "reject with reason", cs.post(app+"/reject", url.Values{"reason": {"Nominal tidak sesuai"}}), 303)
	if got := e.app(id); got.State != enrollment.StateAwaitingPayment || got.PaymentRejection != "Nominal tidak sesuai" {
		t.Fatalf("after rejecting the proof: %s %q", got.State, got.PaymentRejection)
	}

	jpg := picture(t, 7, false)
	e.must(e.svc.SubmitPaymentProof(e.ctx, id, jpg, "image/jpeg"))
	proof = cs.get(app + "/proof")
	expect(t, "JPEG proof", proof, 200)
	if proof.header.Get("Content-Type") != "image/jpeg" || proof.body != string(jpg) || proof.header.Get("Content-Disposition") != "inline" {
		t.Fatalf("JPEG proof: %v", proof.header)
	}
	expect(t, "page with image proof", cs.get(app), 200, `<img class="proof" src="`+app+`/proof"`, "Nominal tidak sesuai")

	r = cs.post(app+"/confirm", nil)
	expect(t, "confirm", r, 303)
	if r.header.Get("Location") != "/cs/?done=payment_confirmed" {
		t.Fatalf("after confirming: %q", r.header.Get("Location"))
	}
	if got := e.app(id); got.State != enrollment.StateRAReview || got.ConfirmedBy != cs.officer.Fingerprint {
		t.Fatalf("after confirming: %s by %q", got.State, got.ConfirmedBy)
	}
	expect(t, "confirm twice", cs.post(app+"/confirm", nil), 409, "Pemeriksaan RA")
	expect(t, "unknown application", cs.get("/cs/applications/nosuch"), 404)

	// CS never handles an application bearing their own email.
	own := e.applicant("citra@psre.example", false)
	e.must(e.svc.RequestVerification(e.ctx, own))
	before = e.snapshot(own)
	rule := "an officer never acts on an application bearing their own email or NIK"
	expect(t, "own application page", cs.get("/cs/applications/"+own), 403, rule)
	expect(t, "own invoice", cs.post("/cs/applications/"+own+"/invoice", nil), 403, rule)
	if e.snapshot(own) != before {
		t.Fatal("the officer invoiced their own application")
	}
	if logs := e.logs.String(); strings.Contains(logs, "Pemohon") || strings.Contains(logs, "example.co.id") || strings.Contains(logs, id) {
		t.Fatalf("personal data or paths in the console's log:\n%s", logs)
	}
}
