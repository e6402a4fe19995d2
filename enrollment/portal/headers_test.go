package portal_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/identity"
	"github.com/psre/appliance/enrollment/portal"
	"github.com/psre/appliance/enrollment/upload"
)

const wantCSP = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// TestSecurityHeaders on pages, errors and static files.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, path := range []string{"/", "/register/identitas", "/login", "/account", "/privacy", "/nothing-here", "/static/selfie.js"} {
		pg := b.get(path)
		h := pg.header
		if got := h.Get("Content-Security-Policy"); got != wantCSP || strings.Contains(got, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != portal.ReferrerPolicy || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS on plain HTTP", path)
		}
		if !strings.HasPrefix(path, "/static/") && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, h.Get("Cache-Control"))
		}
		if strings.Contains(pg.body, "<script>") || strings.Contains(pg.body, " style=") || strings.Contains(pg.body, "<style") ||
			regexp.MustCompile(` on[a-z]+=`).MatchString(pg.body) {
			t.Errorf("%s: inline script or style", path)
		}
	}
	if pg := b.get("/nothing-here"); pg.status != http.StatusNotFound || !strings.Contains(pg.body, e.msg("id", "error.not_found")) {
		t.Errorf("404: %d", pg.status)
	}
	if pg := b.get("/static/"); pg.status != http.StatusNotFound {
		t.Errorf("/static/ lists: %d", pg.status)
	}
	// Secure: HSTS and __Host- cookies with Secure.
	p, err := portal.New(portal.Config{Service: e.svc, DB: e.db, CSRFKey: bytes.Repeat([]byte{1}, 32), Secure: true,
		PrivacyPolicyVersion: policy, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://portal.example/register/identitas", nil))
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Error("Secure: no HSTS")
	}
	var names []string
	for _, c := range rec.Result().Cookies() {
		names = append(names, c.Name)
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || !strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("Secure: cookie %s: %+v", c.Name, c)
		}
	}
	// A visit sets only the CSRF cookie: sessions are made by the first
	// valid POST, so anonymous GETs cannot fill the session store.
	if len(names) != 1 || names[0] != "__Host-csrf" {
		t.Errorf("Secure: cookies %v, want only __Host-csrf", names)
	}
}

// TestCSRF: a POST without the token is refused with 403 and changes
// nothing; so is one from another origin.
func TestCSRF(t *testing.T) {
	e, a := registered(t)
	b := e.browser()
	b.get("/register/identitas")
	b.post("/register/identitas", url.Values{"nik": {"123"}, "name": {"Asli"}, "birth_date": {"1990-08-12"}})
	sessions := portal.SessionCount(e.p)
	noToken := func(path string, form url.Values) page {
		return b.postRaw(path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), nil)
	}
	pg := noToken("/register/identitas", url.Values{"nik": {"999"}, "name": {"Palsu"}, "birth_date": {"2000-01-01"}})
	if pg.status != http.StatusForbidden || !strings.Contains(pg.body, e.msg("id", "error.forbidden")) {
		t.Fatalf("POST without token: %d", pg.status)
	}
	if pg := b.get("/register/identitas"); !strings.Contains(pg.body, `value="Asli"`) || strings.Contains(pg.body, "Palsu") {
		t.Error("the refused POST changed the wizard")
	}
	if pg := noToken("/login", url.Values{"login": {a.username}, "password": {a.password}}); pg.status != http.StatusForbidden {
		t.Errorf("login without token: %d", pg.status)
	}
	if got := portal.SessionCount(e.p); got != sessions {
		t.Errorf("a refused login made a session: %d -> %d", sessions, got)
	}
	if pg := b.postRaw("/register/selfie", "image/jpeg", bytes.NewReader(jpegImage(t, 300, 300)), nil); pg.status != http.StatusForbidden {
		t.Errorf("selfie without token: %d", pg.status)
	}
	// Logged in: logout without a token does not log out.
	b.get("/login")
	b.post("/login", url.Values{"login": {a.username}, "password": {a.password}})
	if pg := noToken("/logout", url.Values{}); pg.status != http.StatusForbidden {
		t.Errorf("logout without token: %d", pg.status)
	}
	if pg := b.get("/account"); pg.path != "/account" {
		t.Error("a refused logout logged out")
	}
	// With the token, from another origin.
	form := url.Values{"csrf_token": {b.token}}
	pg = b.postRaw("/logout", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()),
		http.Header{"Origin": {"http://evil.example"}})
	if pg.status != http.StatusForbidden {
		t.Errorf("cross-origin logout: %d", pg.status)
	}
	// What a browser sends under Referrer-Policy: no-referrer ("Origin: null"
	// on every form POST) is refused too: hence ReferrerPolicy same-origin.
	pg = b.postRaw("/logout", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()),
		http.Header{"Origin": {"null"}})
	if pg.status != http.StatusForbidden {
		t.Errorf("Origin: null: %d", pg.status)
	}
	if pg := b.get("/account"); pg.path != "/account" {
		t.Error("a refused logout logged out")
	}
}

// TestLanguageSwitch: ?lang=en sets a cookie and every page follows it.
func TestLanguageSwitch(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	pg := b.get("/")
	if !strings.Contains(pg.body, `<html lang="id">`) || !strings.Contains(pg.body, `href="?lang=en"`) ||
		!strings.Contains(pg.body, `href="/register"`) || !strings.Contains(pg.body, `href="/login"`) {
		t.Fatal("landing page")
	}
	pg = b.get("/register/identitas?lang=en")
	if pg.path != "/register/identitas" || !strings.Contains(pg.body, `<html lang="en">`) ||
		!strings.Contains(pg.body, e.msg("en", "step.identitas")) || !strings.Contains(pg.body, `href="?lang=id"`) {
		t.Fatalf("?lang=en: %s", pg.path)
	}
	if pg := b.get("/login"); !strings.Contains(pg.body, e.msg("en", "login.title")) {
		t.Error("the cookie does not carry the language")
	}
	if pg := b.get("/login?lang=id"); !strings.Contains(pg.body, `<html lang="id">`) {
		t.Error("back to Indonesian")
	}
	// The redirect that drops ?lang= stays on this site.
	for _, path := range []string{"/%2F%2Fevil.example", "/%5C%5Cevil.example", "//evil.example"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path+"?lang=en", nil)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, "\\") {
			t.Errorf("%s?lang=en redirects to %q", path, loc)
		}
	}
}

// TestBodyLimits: forms take 64 KiB, the image routes an image and a bit.
func TestBodyLimits(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.get("/register/identitas")
	big := url.Values{"name": {strings.Repeat("a", 70<<10)}, "csrf_token": {b.token}}
	if pg := b.postRaw("/register/identitas", "application/x-www-form-urlencoded", strings.NewReader(big.Encode()), nil); pg.status != http.StatusRequestEntityTooLarge {
		t.Errorf("70 KiB form: %d", pg.status)
	}
	huge := bytes.Repeat([]byte{0xff}, upload.MaxBytes+100<<10)
	pg := b.postImage("/register/selfie", huge)
	if pg.status != http.StatusRequestEntityTooLarge || !strings.Contains(pg.body, mustMessage(t, e, "id", "upload.too_large")) {
		t.Errorf("oversized selfie: %d %s", pg.status, pg.body)
	}
}

// TestSessionBounds: sessions expire after 30 idle minutes and their number
// is bounded, the least recently used going first.
func TestSessionBounds(t *testing.T) {
	e := newEnv(t)
	portal.SetSessionLimits(e.p, 3, 64<<20)
	var bs []*browser
	for i := range 5 {
		e.clock.Advance(time.Second)
		b := e.browser()
		b.get("/register/identitas")
		b.post("/register/identitas", url.Values{"name": {"Orang " + string(rune('A'+i))}})
		bs = append(bs, b)
	}
	if n := portal.SessionCount(e.p); n != 3 {
		t.Errorf("%d sessions, want 3", n)
	}
	e.clock.Advance(time.Second)
	if pg := bs[0].get("/register/identitas"); strings.Contains(pg.body, "Orang A") {
		t.Error("the oldest session survived")
	}
	if pg := bs[4].get("/register/identitas"); !strings.Contains(pg.body, "Orang E") {
		t.Error("the newest session was evicted")
	}
	e.clock.Advance(portal.SessionIdle - time.Minute)
	if pg := bs[4].get("/register/identitas"); !strings.Contains(pg.body, "Orang E") {
		t.Error("expired before the idle time")
	}
	e.clock.Advance(portal.SessionIdle + time.Second)
	if pg := bs[4].get("/register/identitas"); strings.Contains(pg.body, "Orang E") {
		t.Error("alive after the idle time")
	}
}

// TestCatalogs: both languages know every key the code and templates use:
// the identity and upload errors, the states of DESIGN.md, t "..." calls.
func TestCatalogs(t *testing.T) {
	e := newEnv(t)
	keys := []string{}
	for _, err := range []error{identity.ErrNIKLength, identity.ErrNIKNotDigits, identity.ErrNIKProvince, identity.ErrNIKRegion,
		identity.ErrNIKDate, identity.ErrNIKBirthMismatch, identity.ErrNIKSerial, identity.ErrNIKAge, identity.ErrPhone,
		identity.ErrPasswordShort, identity.ErrPasswordLong, identity.ErrPasswordContainsPersonal, identity.ErrPasswordCommon,
		identity.ErrUsername} {
		keys = append(keys, identity.MessageKey(err))
	}
	for _, err := range []error{upload.ErrEmpty, upload.ErrTooLarge, upload.ErrNotImage, upload.ErrDimensions, upload.ErrCorrupt,
		upload.ErrNotProof, upload.ErrPDFEncrypted, upload.ErrPDFCorrupt} {
		keys = append(keys, upload.MessageKey(err))
	}
	for _, s := range []string{"registered", "verification_requested", "awaiting_payment", "payment_submitted", "ra_review",
		"activation_pending", "activation_email_otp", "activation_phone_otp", "issued", "rejected_correctable", "rejected",
		"revoked", "expired"} {
		keys = append(keys, "state."+s, "next."+s)
	}
	// Keys Service.Register reports and the portal's own.
	keys = append(keys, "name.invalid", "upload.size", "consent.required", "email.invalid", "taken.nik", "taken.username",
		"taken.email", "taken.phone", "ktp_photo.missing", "selfie.missing", "specimen.missing", "captcha.wrong",
		"password.mismatch", "birth_date.invalid", "field.invalid", "session.expired", "status.saved")
	// The keys the account, correction and activation handlers use.
	keys = append(keys, "flash.verification_requested", "flash.proof_received", "flash.corrections_sent", "proof.missing",
		"invoice.none", "corrections.required", "corrections.file_required", "corrections.not_requested", "corrections.fields",
		"corrections.photo_hint", "corrections.specimen_hint", "activation.invalid", "activation.expired", "activation.used",
		"activation.state", "activation.title", "date.format")
	// The keys of the activation, profile and revocation handlers.
	keys = append(keys, "otp.wrong", "otp.dead", "otp.expired", "otp.none", "otp.format", "otp.throttled", "otp.seconds",
		"otp.minutes", "otp.throttled_start", "otp.email_title", "otp.phone_title", "otp.step_email", "otp.step_phone",
		"otp.step_issue", "activation.consent_required", "activation.consent_changed", "activation.issue_failed",
		"flash.email_verified", "flash.code_resent_email", "flash.code_resent_sms", "flash.certificate_issued",
		"flash.revocation_code_sent", "flash.certificate_revoked", "account.continue_email", "account.continue_phone",
		"account.open_profile", "profile.title", "profile.no_certificate", "revoke.reason_required",
		"revoke.password_required", "revoke.password_wrong")
	for _, f := range enrollment.CorrectableFields {
		keys = append(keys, "correct."+f)
	}
	for m := 1; m <= 12; m++ {
		keys = append(keys, fmt.Sprintf("month.%d", m))
	}
	files, _ := os.ReadDir("templates")
	tCall := regexp.MustCompile(`\bt "([a-z_.]+)"`)
	for _, f := range files {
		raw, err := os.ReadFile("templates/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range tCall.FindAllStringSubmatch(string(raw), -1) {
			keys = append(keys, m[1])
		}
	}
	for _, k := range keys {
		for _, lang := range []string{"id", "en"} {
			if s, ok := portal.Message(e.p, lang, k); !ok || s == "" {
				t.Errorf("%s: no %q", lang, k)
			}
		}
	}
}

// TestSessionFlood: visits make no sessions, and a flood of new wizards
// evicts other wizards before it logs anyone out.
func TestSessionFlood(t *testing.T) {
	e := newEnv(t)
	portal.SetSessionLimits(e.p, 3, 64<<20)
	a := budi()
	victim := e.browser()
	if pg := victim.register(a); pg.path != "/register/selesai" {
		t.Fatalf("register: %s", pg.path)
	}
	victim.get("/login")
	if pg := victim.post("/login", url.Values{"login": {a.username}, "password": {a.password}}); pg.path != "/account" {
		t.Fatalf("login: %s", pg.path)
	}
	for range 50 {
		e.browser().get("/register/identitas")
	}
	if n := portal.SessionCount(e.p); n != 1 {
		t.Fatalf("%d sessions after 50 anonymous visits, want only the victim's", n)
	}
	for i := range 20 {
		e.clock.Advance(time.Second)
		b := e.browser()
		b.get("/register/identitas")
		b.post("/register/identitas", url.Values{"name": {"Flood " + string(rune('A'+i))}})
	}
	if pg := victim.get("/account"); pg.path != "/account" {
		t.Fatalf("a flood of wizards logged the victim out: %s", pg.path)
	}
}
