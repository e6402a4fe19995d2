package portal_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// TestActivationStartRefusals: "Aktivasi" with a link that is not the
// caller's, wrong, expired or used, or by an applicant whose application
// is not approved, is refused with the page of the GET and changes
// nothing; the token is neither shown back nor logged. Pressed twice, it
// goes on to the email step once.
func TestActivationStartRefusals(t *testing.T) {
	e := newEnv(t)
	s := e.staff()
	b, id, token := e.approved(budi(), s)
	bo, other, otherToken := e.approved(siti(), s)
	third := applicant{nik: "3171011208900003", name: "Budi Tiga", birth: "1990-08-12", username: "budi.tiga",
		password: "sepeda-merah-di-jalan", email: "tiga@example.co.id", phone: "0812-7777-6666"}
	bt, c := e.signedIn(third)
	e.toReview(c, s) // ra_review: not approved

	cases := []struct {
		name   string
		who    *browser
		token  string
		change func(*store.Activation)
		status int
		key    string
	}{
		{"another account's link", bo, token, nil, http.StatusBadRequest, "activation.invalid"},
		{"my link to another account", b, otherToken, nil, http.StatusBadRequest, "activation.invalid"},
		{"wrong token", b, token[:len(token)-2] + "xx", nil, http.StatusBadRequest, "activation.invalid"},
		{"no token", b, "", nil, http.StatusBadRequest, "activation.invalid"},
		{"expired", b, token, func(a *store.Activation) { a.Expires = time.Now().Add(-time.Second) }, http.StatusGone, "activation.expired"},
		{"used", b, token, func(a *store.Activation) { a.Used = true }, http.StatusGone, "activation.used"},
		{"not approved (ra_review)", bt, token, nil, http.StatusConflict, "activation.state"},
	}
	all := func() string {
		return e.snapshot(id) + e.snapshot(other) + e.snapshot(c) + e.codes(id) + e.codes(other) + e.codes(c)
	}
	for _, lang := range []string{"id", "en"} {
		for _, tc := range cases {
			saved := *e.app(id).Activation
			if tc.change != nil {
				e.setActivation(id, tc.change)
			}
			tc.who.get("/account?lang=" + lang)
			before := all()
			pg := tc.who.post("/aktivasi", url.Values{"token": {tc.token}})
			if pg.status != tc.status || text(pg.body, "error-message") != mustText(t, e, lang, tc.key) || !strings.Contains(pg.body, `<html lang="`+lang+`">`) {
				t.Errorf("%s, %s: %d %q, want %d %s", lang, tc.name, pg.status, text(pg.body, "error-message"), tc.status, tc.key)
			}
			if tc.token != "" && strings.Contains(pg.body, tc.token) {
				t.Errorf("%s, %s: the refusal shows the token", lang, tc.name)
			}
			if all() != before {
				t.Errorf("%s, %s: a refused Aktivasi changed something", lang, tc.name)
			}
			e.setActivation(id, func(a *store.Activation) { *a = saved })
		}
	}
	// The step pages of an application that is not being activated: 409.
	for _, path := range []string{"/aktivasi/email", "/aktivasi/telepon"} {
		before := all()
		if pg := bt.get(path); pg.status != http.StatusConflict {
			t.Errorf("GET %s in ra_review: %d", path, pg.status)
		}
		if pg := bt.post(path, phoneForm("123456")); pg.status != http.StatusConflict {
			t.Errorf("POST %s in ra_review: %d", path, pg.status)
		}
		if pg := bt.post(path+"/kirim-ulang", nil); pg.status != http.StatusConflict {
			t.Errorf("POST %s/kirim-ulang in ra_review: %d", path, pg.status)
		}
		if all() != before {
			t.Errorf("%s in ra_review changed something", path)
		}
	}

	// Twice: one email, and the second press goes on to the email step.
	for range 2 {
		if pg := b.start(token); pg.path != "/aktivasi/email" {
			t.Fatalf("Aktivasi: %s %d", pg.path, pg.status)
		}
	}
	if n := e.count("otp_email", "budi@example.co.id"); n != 1 {
		t.Errorf("%d email codes after pressing Aktivasi twice", n)
	}
	if pg := b.getURL(e.activationLink("budi@example.co.id")); pg.status != http.StatusGone || text(pg.body, "error-message") != mustText(t, e, "en", "activation.used") {
		t.Errorf("the used link: %d %q", pg.status, text(pg.body, "error-message"))
	}
	logs := e.logs.String()
	if strings.Contains(logs, token) || strings.Contains(logs, otherToken) {
		t.Error("an activation token reached the log")
	}
	if !strings.Contains(logs, "POST /aktivasi") {
		t.Error("the route of Aktivasi was not logged")
	}
}

// codeStep is one submission on an OTP page and what it must answer.
type codeStep struct {
	name   string
	lang   string
	path   string
	form   func() url.Values
	before func()
	status int
	want   func(got string) string // the message of #otp-error, or of #flash when status is 200
	state  string
	sent   int // codes sent by then (email for the email step)
}

// TestEmailCodeRefusals: a malformed code costs no try; wrong codes count
// down the tries, the fifth kills the code, and then even the right code
// fails; a resend within a minute is refused with the wait; after a
// minute a new code comes and works.
func TestEmailCodeRefusals(t *testing.T) {
	e := newEnv(t)
	a := budi()
	b, id, token := e.approved(a, e.staff())
	b.start(token)
	first := e.code("otp_email", a.email)
	wrong := func() url.Values { return url.Values{"code": {otherCode(first)}} }
	msg := func(lang, key string, args ...any) func(string) string {
		return func(string) string { return fmt.Sprintf(mustText(t, e, lang, key), args...) }
	}
	email := enrollment.StateActivationEmailOTP
	steps := []codeStep{
		{"malformed", "id", "/aktivasi/email", func() url.Values { return url.Values{"code": {"12ab56"}} }, nil, 422, msg("id", "otp.format"), email, 1},
		{"empty", "en", "/aktivasi/email", func() url.Values { return url.Values{} }, nil, 422, msg("en", "otp.format"), email, 1},
		{"wrong 1", "id", "/aktivasi/email", wrong, nil, 422, msg("id", "otp.wrong", 4), email, 1},
		{"wrong 2", "en", "/aktivasi/email", wrong, nil, 422, msg("en", "otp.wrong", 3), email, 1},
		{"wrong 3", "id", "/aktivasi/email", wrong, nil, 422, msg("id", "otp.wrong", 2), email, 1},
		{"wrong 4", "id", "/aktivasi/email", wrong, nil, 422, msg("id", "otp.wrong", 1), email, 1},
		{"wrong 5", "id", "/aktivasi/email", wrong, nil, 422, msg("id", "otp.dead"), email, 1},
		{"right but dead", "id", "/aktivasi/email", func() url.Values { return url.Values{"code": {first}} }, nil, 422, msg("id", "otp.dead"), email, 1},
		{"resend too soon", "id", "/aktivasi/email/kirim-ulang", func() url.Values { return nil }, nil, 429, throttled(t, e, "id", 60), email, 1},
		{"resend after a minute", "id", "/aktivasi/email/kirim-ulang", func() url.Values { return nil },
			func() { e.ageCode(id, enrollment.PurposeActivationEmail, 61*time.Second) }, 200, msg("id", "flash.code_resent_email"), email, 2},
		{"the old code", "id", "/aktivasi/email", func() url.Values { return url.Values{"code": {first}} }, nil, 422, msg("id", "otp.wrong", 4), email, 2},
		{"the new code", "id", "/aktivasi/email", func() url.Values { return url.Values{"code": {e.code("otp_email", a.email)}} }, nil, 200,
			msg("id", "flash.email_verified"), enrollment.StateActivationPhoneOTP, 2},
	}
	runCodeSteps(t, e, b, id, steps, func() int { return e.count("otp_email", a.email) })
}

// TestPhoneCodeExpired: an expired SMS code is refused and changes
// nothing else; a new one works.
func TestPhoneCodeExpired(t *testing.T) {
	e := newEnv(t)
	a := budi()
	b, id, token := e.approved(a, e.staff())
	e.toPhone(b, a, token)
	phone := enrollment.StateActivationPhoneOTP
	steps := []codeStep{
		{"expired", "id", "/aktivasi/telepon", func() url.Values { return phoneForm(e.code("otp_sms", budiPhone)) },
			func() { e.ageCode(id, enrollment.PurposeActivationPhone, 5*time.Minute) }, 422, func(string) string { return mustText(t, e, "id", "otp.expired") }, phone, 1},
		{"resend", "en", "/aktivasi/telepon/kirim-ulang", func() url.Values { return nil }, nil, 200,
			func(string) string { return mustText(t, e, "en", "flash.code_resent_sms") }, phone, 2},
		{"resend too soon", "en", "/aktivasi/telepon/kirim-ulang", func() url.Values { return nil },
			func() { e.ageCode(id, enrollment.PurposeActivationPhone, 30*time.Second) }, 429,
			throttled(t, e, "en", 30), phone, 2},
	}
	runCodeSteps(t, e, b, id, steps, func() int { return e.count("otp_sms", budiPhone) })
	if pg := b.post("/aktivasi/telepon", phoneForm(e.code("otp_sms", budiPhone))); pg.path != "/account/profile" || e.app(id).State != enrollment.StateIssued {
		t.Fatalf("the new code: %s %s", pg.path, e.app(id).State)
	}
}

func runCodeSteps(t *testing.T, e *env, b *browser, id string, steps []codeStep, sent func() int) {
	t.Helper()
	for _, st := range steps {
		b.get("/account?lang=" + st.lang)
		if st.before != nil {
			st.before()
		}
		pg := b.post(st.path, st.form())
		got := text(pg.body, "otp-error")
		if st.status == http.StatusOK {
			got = text(pg.body, "flash")
		}
		if pg.status != st.status || got != st.want(got) || e.app(id).State != st.state || sent() != st.sent {
			t.Fatalf("%s: %d %q, state %s, %d codes sent; want %d %q, %s, %d", st.name, pg.status, got, e.app(id).State, sent(),
				st.status, st.want(got), st.state, st.sent)
		}
		if st.status == http.StatusTooManyRequests && pg.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", st.name)
		}
	}
}

// throttled expects the refusal of a resend within a minute of the last
// code, secs seconds after it was sent less the (real) time the request
// took, which the service's clock counts: up to 5 seconds are allowed.
func throttled(t *testing.T, e *env, lang string, secs int) func(got string) string {
	return func(got string) string {
		n := secs
		if m := regexp.MustCompile(`\d+`).FindString(got); m != "" {
			if v, _ := strconv.Atoi(m); v <= secs && v > secs-5 {
				n = v
			}
		}
		return fmt.Sprintf(mustText(t, e, lang, "otp.throttled"), fmt.Sprintf(mustText(t, e, lang, "otp.seconds"), n))
	}
}
