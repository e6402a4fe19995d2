package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/enrollment"
)

// TestActivationCSRF: every POST of activation, and of the revocation,
// without the CSRF token is refused with 403 in the state where it would
// act, and changes nothing (the codes are aged past the resend gap, so a
// resend that slipped through would show).
func TestActivationCSRF(t *testing.T) {
	e := newEnv(t)
	a := budi()
	b, id, token := e.approved(a, e.staff())
	refuse := func(state string, posts map[string]url.Values) {
		t.Helper()
		if got := e.app(id).State; got != state {
			t.Fatalf("in %s, want %s", got, state)
		}
		for path, form := range posts {
			before := e.snapshot(id) + e.codes(id)
			pg := b.postRaw(path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), nil)
			if pg.status != http.StatusForbidden || text(pg.body, "error-message") != mustText(t, e, "id", "error.forbidden") {
				t.Errorf("POST %s in %s without the CSRF token: %d", path, state, pg.status)
			}
			if e.snapshot(id)+e.codes(id) != before {
				t.Errorf("POST %s in %s without the CSRF token changed something", path, state)
			}
		}
	}
	b.get("/aktivasi?token=" + token)
	refuse(enrollment.StateActivationPending, map[string]url.Values{"/aktivasi": {"token": {token}}})
	b.start(token)
	e.ageCode(id, enrollment.PurposeActivationEmail, 2*time.Minute)
	refuse(enrollment.StateActivationEmailOTP, map[string]url.Values{
		"/aktivasi/email": {"code": {e.code("otp_email", a.email)}}, "/aktivasi/email/kirim-ulang": nil})
	b.post("/aktivasi/email", url.Values{"code": {e.code("otp_email", a.email)}})
	e.ageCode(id, enrollment.PurposeActivationPhone, 2*time.Minute)
	code := e.code("otp_sms", budiPhone)
	refuse(enrollment.StateActivationPhoneOTP, map[string]url.Values{
		"/aktivasi/telepon": phoneForm(code), "/aktivasi/telepon/kirim-ulang": nil})
	b.post("/aktivasi/telepon", phoneForm(code))
	b.post("/account/revoke/code", nil)
	e.ageCode(id, enrollment.PurposeRevoke, 2*time.Minute)
	refuse(enrollment.StateIssued, map[string]url.Values{
		"/account/revoke/code": nil,
		"/account/revoke":      {"reason": {"1"}, "password": {a.password}, "code": {e.code("otp_sms", budiPhone)}}})
	if pg := b.post("/account/revoke", url.Values{"reason": {"1"}, "password": {a.password}, "code": {e.code("otp_sms", budiPhone)}}); pg.path != "/account/profile" ||
		e.app(id).State != enrollment.StateRevoked {
		t.Fatalf("with the token: %s %s", pg.path, e.app(id).State)
	}
}

// TestActivationOwnerOnly: the activation pages, the profile, the
// downloads and the revocation are the caller's own: B never sees or
// moves A's, whatever B sends; a caller who is not logged in goes to the
// login page.
func TestActivationOwnerOnly(t *testing.T) {
	e := newEnv(t)
	s := e.staff()
	a := budi()
	ba, idA, token := e.approved(a, s)
	bb, idB := e.signedIn(siti())
	e.toPhone(ba, a, token)
	codeA := e.code("otp_sms", budiPhone)

	beforeA := e.snapshot(idA) + e.codes(idA)
	for _, path := range []string{"/aktivasi/email", "/aktivasi/telepon"} {
		if pg := bb.get(path); pg.status != http.StatusConflict || strings.Contains(pg.body, "+62812****7890") {
			t.Errorf("B opens %s: %d", path, pg.status)
		}
	}
	if pg := bb.post("/aktivasi/telepon", phoneForm(codeA)); pg.status != http.StatusConflict {
		t.Errorf("B submits A's code: %d", pg.status)
	}
	if pg := bb.post("/aktivasi", url.Values{"token": {token}}); pg.status != http.StatusConflict {
		t.Errorf("B presses Aktivasi with A's token: %d", pg.status)
	}
	if e.snapshot(idA)+e.codes(idA) != beforeA || e.app(idB).State != "registered" {
		t.Fatal("B's requests changed an application")
	}

	if pg := ba.post("/aktivasi/telepon", phoneForm(codeA)); pg.path != "/account/profile" {
		t.Fatalf("A's own code: %s", pg.path)
	}
	serial := strings.ToUpper(e.app(idA).Certificate.Serial)
	pg := bb.get("/account/profile")
	if pg.status != http.StatusOK || text(pg.body, "profile-name") != "Siti Rahayu" || strings.Contains(pg.body, serial) ||
		strings.Contains(pg.body, "Budi") || !strings.Contains(pg.body, `id="no-certificate"`) || strings.Contains(pg.body, `id="revoke-form"`) {
		t.Errorf("B's profile:\n%s", pg.body)
	}
	for _, ext := range []string{"pem", "cer", "p7b"} {
		if pg := bb.get("/account/certificate." + ext); pg.status != http.StatusNotFound ||
			text(pg.body, "error-message") != mustText(t, e, "id", "profile.no_certificate") || pg.header.Get("Content-Disposition") != "" {
			t.Errorf("B downloads .%s: %d", ext, pg.status)
		}
	}
	beforeA = e.snapshot(idA) + e.codes(idA)
	smsA := e.count("otp_sms", budiPhone)
	for _, path := range []string{"/account/revoke/code", "/account/revoke"} {
		if pg := bb.post(path, url.Values{"reason": {"1"}, "password": {siti().password}, "code": {"123456"}}); pg.path != "/account/profile" {
			t.Errorf("B posts %s: %s", path, pg.path)
		}
	}
	if e.snapshot(idA)+e.codes(idA) != beforeA || e.count("otp_sms", budiPhone) != smsA {
		t.Fatal("B's revocation requests touched A's application")
	}

	nb := e.browser()
	for _, path := range []string{"/account/profile", "/account/certificate.pem", "/aktivasi/email", "/aktivasi/telepon"} {
		if pg := nb.get(path); pg.path != "/login" || strings.Contains(pg.body, serial) {
			t.Errorf("%s logged out: %s", path, pg.path)
		}
	}
	nb.get("/login")
	for _, path := range []string{"/aktivasi", "/aktivasi/email", "/aktivasi/telepon", "/aktivasi/telepon/kirim-ulang", "/account/revoke/code", "/account/revoke"} {
		if pg := nb.post(path, phoneForm(codeA)); pg.path != "/login" {
			t.Errorf("POST %s logged out: %s", path, pg.path)
		}
	}
	if e.snapshot(idA)+e.codes(idA) != beforeA {
		t.Error("a logged-out POST changed A's application")
	}
}
