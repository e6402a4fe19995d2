package portal_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/psre/appliance/enrollment"
)

// TestRevokeRefusals: the revocation form refuses a missing or unknown
// reason, a missing password, a malformed, absent or wrong code, each with
// its message in place; only a wrong code is recorded (a try); the certificate
// stays good and the key stays on the token.
func TestRevokeRefusals(t *testing.T) {
	e := newEnv(t)
	a := budi()
	b, id, token := e.approved(a, e.staff())
	e.issued(b, a, token, budiPhone)
	label := e.app(id).Issuance.KeyLabel
	form := func(reason, password, code string) url.Values {
		return url.Values{"reason": {reason}, "password": {password}, "code": {code}}
	}
	cases := []struct {
		name, lang string
		form       func() url.Values
		status     int
		want       func() string
		changes    bool
	}{
		{"no code sent yet", "id", func() url.Values { return form("1", a.password, "123456") }, 422,
			func() string { return mustText(t, e, "id", "otp.none") }, false},
		{"send the code", "id", nil, 0, nil, true},
		{"no reason", "en", func() url.Values { return form("", a.password, e.code("otp_sms", budiPhone)) }, 400,
			func() string { return mustText(t, e, "en", "revoke.reason_required") }, false},
		{"a reason a subscriber cannot give", "id", func() url.Values { return form("4", a.password, e.code("otp_sms", budiPhone)) }, 400,
			func() string { return mustText(t, e, "id", "revoke.reason_required") }, false},
		{"no password", "id", func() url.Values { return form("1", "", e.code("otp_sms", budiPhone)) }, 400,
			func() string { return mustText(t, e, "id", "revoke.password_required") }, false},
		{"malformed code", "id", func() url.Values { return form("1", a.password, "12345") }, 400,
			func() string { return mustText(t, e, "id", "otp.format") }, false},
		{"wrong code", "en", func() url.Values { return form("1", a.password, otherCode(e.code("otp_sms", budiPhone))) }, 422,
			func() string { return fmt.Sprintf(mustText(t, e, "en", "otp.wrong"), 4) }, true},
	}
	for _, tc := range cases {
		b.get("/account/profile?lang=" + tc.lang)
		if tc.form == nil {
			if pg := b.post("/account/revoke/code", nil); pg.path != "/account/profile" {
				t.Fatalf("%s: %s", tc.name, pg.path)
			}
			continue
		}
		before := e.snapshot(id) + e.codes(id)
		pg := b.post("/account/revoke", tc.form())
		if pg.status != tc.status || text(pg.body, "revoke-error") != tc.want() {
			t.Errorf("%s: %d %q, want %d %q", tc.name, pg.status, text(pg.body, "revoke-error"), tc.status, tc.want())
		}
		if changed := e.snapshot(id)+e.codes(id) != before; changed != tc.changes {
			t.Errorf("%s: changed %v, want %v", tc.name, changed, tc.changes)
		}
		if e.app(id).State != enrollment.StateIssued || e.keys.count("privkey", label) != 1 {
			t.Fatalf("%s: revoked anyway", tc.name)
		}
	}
	if _, revoked := e.ca.counts(); revoked != 0 {
		t.Fatal("the CA revoked on a refused form")
	}
	if pg := b.post("/account/revoke", form("1", a.password, e.code("otp_sms", budiPhone))); pg.path != "/account/profile" ||
		e.app(id).State != enrollment.StateRevoked || e.keys.count("privkey", label) != 0 {
		t.Fatalf("the right form after the refusals: %s %s", pg.path, e.app(id).State)
	}
	if pg := b.post("/account/revoke/code", nil); pg.path != "/account/profile" || pg.status != http.StatusOK {
		t.Errorf("a code for a revoked certificate: %s %d", pg.path, pg.status)
	}
}
