package portal_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/portal"
)

// TestConsentRequired: "Proses Kode OTP" without both consents to the
// texts in force is refused with 400 and the reason, and consumes nothing:
// the same code works afterwards.
func TestConsentRequired(t *testing.T) {
	e := newEnv(t)
	a := budi()
	b, id, token := e.approved(a, e.staff())
	e.toPhone(b, a, token)
	code := e.code("otp_sms", budiPhone)
	cases := []struct {
		name, lang string
		change     func(url.Values)
		key        string
	}{
		{"none", "id", func(v url.Values) { v.Del("consent_issuance"); v.Del("consent_ownership") }, "activation.consent_required"},
		{"issuance only", "en", func(v url.Values) { v.Del("consent_ownership") }, "activation.consent_required"},
		{"ownership only", "id", func(v url.Values) { v.Del("consent_issuance") }, "activation.consent_required"},
		{"not ticked but versions sent", "id", func(v url.Values) { v.Set("consent_issuance", "no") }, "activation.consent_required"},
		{"an older text", "id", func(v url.Values) { v.Set("issuance_version", "persetujuan-penerbitan-2025-01") }, "activation.consent_changed"},
		{"no versions", "en", func(v url.Values) { v.Del("issuance_version"); v.Del("ownership_version") }, "activation.consent_changed"},
	}
	for _, tc := range cases {
		b.get("/account?lang=" + tc.lang)
		form := phoneForm(code)
		tc.change(form)
		before := e.snapshot(id) + e.codes(id)
		pg := b.post("/aktivasi/telepon", form)
		if pg.status != http.StatusBadRequest || text(pg.body, "consent-error") != mustText(t, e, tc.lang, tc.key) ||
			!strings.Contains(pg.body, `id="consent-issuance-text"`) {
			t.Errorf("%s: %d %q, want 400 %s", tc.name, pg.status, text(pg.body, "consent-error"), tc.key)
		}
		if e.snapshot(id)+e.codes(id) != before || e.app(id).Issuance != nil {
			t.Errorf("%s: a refused consent changed something", tc.name)
		}
	}
	if n, _ := e.ca.counts(); n != 0 || e.keys.count("privkey", "") != 0 {
		t.Fatal("a key or a certificate was made without consent")
	}
	if pg := b.post("/aktivasi/telepon", phoneForm(code)); pg.path != "/account/profile" || e.app(id).State != enrollment.StateIssued {
		t.Fatalf("the same code with both consents: %s %s", pg.path, e.app(id).State)
	}
}

// TestIssuanceOnce: submitting "Proses Kode OTP" twice, one after the
// other or at the same time, makes one key on the users token and one
// certificate.
func TestIssuanceOnce(t *testing.T) {
	e := newEnv(t)
	s := e.staff()
	a := budi()
	b, id, token := e.approved(a, s)
	e.toPhone(b, a, token)
	form := phoneForm(e.code("otp_sms", budiPhone))
	for i := range 2 {
		if pg := b.post("/aktivasi/telepon", form); pg.path != "/account/profile" || !strings.Contains(pg.body, `id="cert-serial"`) {
			t.Fatalf("submission %d: %s", i+1, pg.path)
		}
	}
	label := e.app(id).Issuance.KeyLabel
	if n, _ := e.ca.counts(); n != 1 || e.keys.count("privkey", label) != 1 {
		t.Fatalf("one after the other: %d certificates, %d keys", n, e.keys.count("privkey", label))
	}

	bs, other, otherToken := e.approved(siti(), s)
	e.toPhone(bs, siti(), otherToken)
	bs.get("/aktivasi/telepon")
	form = phoneForm(e.code("otp_sms", "+6281311112222"))
	const n = 4
	statuses := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = bs.postQuiet("/aktivasi/telepon", form) })
	}
	wg.Wait()
	for i, st := range statuses {
		if st != "303 /account/profile" {
			t.Errorf("concurrent submission %d: %s", i+1, st)
		}
	}
	otherLabel := e.app(other).Issuance.KeyLabel
	if issued, _ := e.ca.counts(); issued != 2 || e.keys.count("privkey", otherLabel) != 1 || e.keys.count("privkey", "") != 2 ||
		e.app(other).State != enrollment.StateIssued {
		t.Fatalf("at the same time: %d certificates in all, %d keys for the label, %d in all, state %s",
			issued, e.keys.count("privkey", otherLabel), e.keys.count("privkey", ""), e.app(other).State)
	}
}

// TestIssuanceResumes: when the CA fails after the code was accepted, the
// page says so (503) and asks for no new code; submitting again finishes
// the same issuance with the key made the first time.
func TestIssuanceResumes(t *testing.T) {
	e := newEnv(t)
	a := budi()
	b, id, token := e.approved(a, e.staff())
	e.toPhone(b, a, token)
	e.ca.failNext(errors.New("the issuing CA is unavailable"))
	pg := b.post("/aktivasi/telepon", phoneForm(e.code("otp_sms", budiPhone)))
	if pg.status != http.StatusServiceUnavailable || text(pg.body, "otp-error") != mustText(t, e, "id", "activation.issue_failed") ||
		text(pg.body, "issuing") != mustText(t, e, "id", "activation.issuing") || strings.Contains(pg.body, `id="f-code"`) ||
		strings.Contains(pg.body, `id="resend-form"`) {
		t.Fatalf("after the CA failed: %d\n%s", pg.status, pg.body)
	}
	label := e.app(id).Issuance.KeyLabel
	if issued, _ := e.ca.counts(); issued != 0 || e.keys.count("privkey", label) != 1 || e.app(id).State != enrollment.StateActivationPhoneOTP {
		t.Fatalf("after the CA failed: %d certificates, state %s", issued, e.app(id).State)
	}
	if pg := b.get("/aktivasi/telepon"); text(pg.body, "issuing") == "" {
		t.Error("the page does not say the code was accepted")
	}
	if pg := b.post("/aktivasi/telepon", url.Values{}); pg.path != "/account/profile" || e.app(id).State != enrollment.StateIssued {
		t.Fatalf("submitting again: %s %s", pg.path, e.app(id).State)
	}
	if issued, _ := e.ca.counts(); issued != 1 || e.keys.count("privkey", "") != 1 {
		t.Fatalf("%d certificates, %d keys", issued, e.keys.count("privkey", ""))
	}
}

// postQuiet submits form with the last page's CSRF token without touching
// the browser's state (safe from several goroutines) and returns the
// status and Location.
func (b *browser) postQuiet(path string, form url.Values) string {
	form = cloneValues(form)
	form.Set("csrf_token", b.token)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	return resp.Status[:3] + " " + resp.Header.Get("Location")
}

// TestConsentTextsRequired: the portal does not start without the texts
// of the consent versions in force.
func TestConsentTextsRequired(t *testing.T) {
	e := newEnv(t)
	for _, v := range []enrollment.Consents{
		{Issuance: "persetujuan-penerbitan-1999-01", Ownership: consentsInForce.Ownership},
		{Issuance: consentsInForce.Issuance, Ownership: "perjanjian-kepemilikan-1999-01"},
		{Issuance: "../privacy/privacy-2026-11", Ownership: consentsInForce.Ownership},
	} {
		svc, err := enrollment.NewService(e.db, e.kek, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.WithWorkflow(enrollment.WorkflowConfig{Effects: recordingEffects{}, PortalURL: e.srv.URL,
			Invoice: enrollment.InvoiceConfig{Amount: 1, BankName: "B", AccountNumber: "1", AccountName: "A"}}); err != nil {
			t.Fatal(err)
		}
		if err := svc.WithActivation(enrollment.ActivationConfig{Keys: e.keys, Authority: e.ca, Consents: v}); err != nil {
			t.Fatal(err)
		}
		_, err = portal.New(portal.Config{Service: svc, DB: e.db, CSRFKey: bytes.Repeat([]byte{1}, 32), PrivacyPolicyVersion: policy})
		if err == nil || !strings.Contains(err.Error(), "consent") {
			t.Errorf("%+v: portal.New = %v, want a refusal naming the consent text", v, err)
		}
	}
}
