package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestOwnApplicationOnly: every account route is the caller's own
// application; B never sees or changes A's, and a caller who is not
// logged in changes nothing.
func TestOwnApplicationOnly(t *testing.T) {
	e := newEnv(t)
	s := e.staff()
	ba, a := e.signedIn(budi())
	bb, b := e.signedIn(siti())
	e.must(e.svc.RequestVerification(t.Context(), a))
	e.must(e.svc.IssueInvoice(t.Context(), s.cs, a))
	inv := e.app(a).Invoice

	if pg := ba.get("/account"); text(pg.body, "invoice-number") != inv.Number {
		t.Fatal("A does not see A's invoice")
	}
	pg := bb.get("/account")
	if !strings.Contains(pg.body, `data-state="registered"`) || strings.Contains(pg.body, inv.Number) ||
		strings.Contains(pg.body, budi().name) || !strings.Contains(pg.body, siti().name) {
		t.Fatalf("B's account page:\n%s", pg.body)
	}
	if pg := bb.get("/account/invoice"); pg.status != http.StatusNotFound || strings.Contains(pg.body, inv.Number) {
		t.Errorf("B's invoice page: %d", pg.status)
	}
	if pg := bb.get("/account/corrections"); pg.path != "/account" {
		t.Errorf("B's correction page: %s", pg.path)
	}
	beforeA, beforeB := e.snapshot(a), e.snapshot(b)
	if pg := bb.postFiles("/account/payment-proof", nil, false, file{"proof", "bukti.pdf", minimalPDF(1, "")}); pg.path != "/account" {
		t.Errorf("B's proof: %s", pg.path)
	}
	if e.snapshot(a) != beforeA || e.snapshot(b) != beforeB {
		t.Fatal("B's proof (B has no invoice) changed an application")
	}
	recordA := e.record(a)
	bb.post("/account/verification", nil)
	if e.app(b).State != "verification_requested" || e.record(a) != recordA {
		t.Fatal("B's Ajukan Verifikasi did not act on B's application only")
	}

	// Logged out: to the login page (and back to a page after it), nothing changed.
	nb := e.browser()
	for _, path := range []string{"/account/invoice", "/account/corrections"} {
		pg := nb.get(path)
		if pg.path != "/login" || !strings.Contains(pg.body, `name="next" value="`+path+`"`) {
			t.Errorf("%s logged out: %s", path, pg.path)
		}
	}
	beforeA, beforeB = e.snapshot(a), e.snapshot(b)
	nb.get("/login")
	for _, path := range []string{"/account/verification", "/account/payment-proof", "/account/corrections"} {
		if pg := nb.postFiles(path, nil, false, file{"proof", "bukti.pdf", minimalPDF(1, "")}); pg.path != "/login" {
			t.Errorf("POST %s logged out: %s", path, pg.path)
		}
	}
	if e.snapshot(a) != beforeA || e.snapshot(b) != beforeB {
		t.Error("a logged-out POST changed an application")
	}
}

// TestLoginNext: after the login the applicant goes to the page they
// came from, but only to a path on this site.
func TestLoginNext(t *testing.T) {
	e, a := registered(t)
	for _, c := range []struct{ next, want string }{
		{"/account/invoice", "/account/invoice"},
		{"/aktivasi?token=abc", "/aktivasi"},
		{"", "/account"},
		{"//evil.example/x", "/account"},
		{"/\\evil.example", "/account"},
		{"/%2F%2Fevil.example", "/account"},
		{"https://evil.example/", "/account"},
		{"javascript:alert(1)", "/account"},
		{"/\tevil", "/account"},
	} {
		b := e.browser()
		b.get("/login?" + url.Values{"next": {c.next}}.Encode())
		pg := b.post("/login", url.Values{"login": {a.username}, "password": {a.password}, "next": {c.next}})
		if pg.path != c.want {
			t.Errorf("next %q: landed on %s, want %s", c.next, pg.path, c.want)
		}
	}
}
