package console_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/store"
)

// TestAuthorisationMatrix sends every console route, GET and POST, as
// every kind of identity, and checks each cell's status. Allowed cells aim
// at applications in states where the action is refused (409) or harmless,
// so the matrix changes nothing and its order does not matter.
func TestAuthorisationMatrix(t *testing.T) {
	e := newEnv(t, 1)
	cs, ra, auditor := e.officer("Citra CS", store.RoleCS, ""), e.officer("Rudi RA", store.RoleRA, ""), e.officer("Ani Auditor", store.RoleAuditor, "")
	disabled := e.officer("Dedi RA", store.RoleRA, "")
	err := e.db.Update(func(tx *bolt.Tx) error {
		o := disabled.officer
		o.Status = store.OfficerDisabled
		return store.PutOfficer(tx, o)
	})
	if err != nil {
		t.Fatal(err)
	}
	revoked := e.officer("Rita CS", store.RoleCS, "")
	if _, _, err := e.db.Revoke(revoked.cert.SerialNumber.Text(16), store.Revocation{Reason: 1, Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	unknownCert, cert := e.admin.issue(t, "Tanpa Catatan", false)
	record(t, e.db, cert) // issued and good, but no officer record
	foreignCert, _ := e.foreign.issue(t, "Citra CS", false)
	clients := map[string]*client{
		"no certificate": e.client(nil), "foreign CA": e.client(&foreignCert), "disabled officer": disabled,
		"revoked certificate": revoked, "unknown certificate": e.client(&unknownCert), "cs": cs, "ra": ra, "auditor": auditor,
	}
	inReview := e.applicant("", false)
	e.toReview(inReview, cs)
	requested := e.applicant("", false)
	e.must(e.svc.RequestVerification(e.ctx, requested))
	reason := url.Values{"reason": {"tidak sesuai"}}
	routes := []struct {
		method, path string
		form         url.Values
		role         string // "" admits every officer
		want         int    // for the admitted roles
	}{
		{"GET", "/", nil, "", 303},
		{"GET", "/static/console.css", nil, "", 200},
		{"GET", "/nowhere", nil, "", 404},
		{"GET", "/cs/", nil, store.RoleCS, 200},
		{"GET", "/cs/applications/" + inReview, nil, store.RoleCS, 200},
		{"GET", "/cs/applications/" + inReview + "/proof", nil, store.RoleCS, 200},
		{"POST", "/cs/applications/" + inReview + "/invoice", nil, store.RoleCS, 409},
		{"POST", "/cs/applications/" + inReview + "/confirm", nil, store.RoleCS, 409},
		{"POST", "/cs/applications/" + inReview + "/reject", reason, store.RoleCS, 409},
		{"GET", "/cs/nowhere", nil, store.RoleCS, 404},
		{"GET", "/ra/", nil, store.RoleRA, 200},
		{"GET", "/ra/applications/" + inReview, nil, store.RoleRA, 200},
		{"GET", "/ra/applications/" + inReview + "/image/selfie", nil, store.RoleRA, 200},
		{"POST", "/ra/applications/" + requested + "/approve", nil, store.RoleRA, 409},
		{"POST", "/ra/applications/" + requested + "/reject-correctable", url.Values{"reason": {"buram"}, "field": {"selfie"}}, store.RoleRA, 409},
		{"POST", "/ra/applications/" + requested + "/reject-final", reason, store.RoleRA, 409},
		{"GET", "/audit/", nil, store.RoleAuditor, 200},
		{"POST", "/audit/verify", nil, store.RoleAuditor, 200},
	}
	before := e.snapshot(inReview) + e.snapshot(requested)
	for _, rt := range routes {
		for who, c := range clients {
			t.Run(rt.method+" "+rt.path+" as "+who, func(t *testing.T) {
				r := c.request(rt.method, rt.path, rt.form, rt.method == "POST")
				want := 403
				switch {
				case who == "no certificate" || who == "foreign CA":
					// Without a certificate the server asks for one; the impostor's
					// certificate (the admin CA's name, another key) is sent and
					// fails verification.
					alert := map[string]string{"no certificate": "certificate required", "foreign CA": "unknown certificate authority"}[who]
					if r.err == nil || !strings.Contains(r.err.Error(), alert) {
						t.Fatalf("handshake: status %d, error %v, want %q", r.status, r.err, alert)
					}
					return
				case who == "cs" || who == "ra" || who == "auditor":
					if rt.role == "" || rt.role == who {
						want = rt.want
					}
				}
				expect(t, rt.method+" "+rt.path, r, want)
				if want == 403 && !strings.Contains(r.body, "Akses ditolak") {
					t.Fatalf("403 without the refusal page:\n%s", r.body)
				}
			})
		}
	}
	if after := e.snapshot(inReview) + e.snapshot(requested); after != before {
		t.Fatalf("the matrix changed the store:\n%s\n%s", before, after)
	}
	for reason, min := range map[string]float64{"officer_disabled": 18, "certificate_revoked": 18, "unknown_certificate": 18, "wrong_role": 1} {
		if got := e.counter("appliance_console_auth_failures_total", map[string]string{"reason": reason}); got < min {
			t.Errorf("auth failures %s: %v, want at least %v", reason, got, min)
		}
	}
	if got := e.counter("appliance_console_requests_total", map[string]string{"route": "GET /cs/{$}", "code": "200"}); got < 1 {
		t.Errorf("requests counter of GET /cs/: %v", got)
	}
}

// TestSecurityHeaders: every response is no-store under a strict CSP, the
// language switch works, and a plain HTTP request (no TLS) is refused.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, 1)
	cs := e.officer("Citra CS", store.RoleCS, "")
	r := cs.get("/cs/")
	expect(t, "CS queue", r, 200, "Antrean Layanan Pelanggan")
	for h, want := range map[string]string{
		"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if strings.Contains(r.body, "<script") {
		t.Error("the console serves a script")
	}
	if ck := r.header.Get("Set-Cookie"); !strings.HasPrefix(ck, "__Host-csrf=") || !strings.Contains(ck, "; Secure") ||
		!strings.Contains(ck, "; HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
		t.Errorf("CSRF cookie %q", ck)
	}
	big := url.Values{"reason": {strings.Repeat("x", 70<<10)}}
	expect(t, "oversized form", cs.post("/cs/applications/x/reject", big), 413)
	expect(t, "switch to English", cs.get("/cs/?lang=en"), 303)
	expect(t, "English queue", cs.get("/cs/"), 200, "Customer service queue")
	// The handler refuses on its own, whatever the listener let through.
	_, foreignLeaf := e.foreign.issue(t, "Citra CS", false)
	for name, state := range map[string]*tls.ConnectionState{
		"plain HTTP":                   nil,
		"no verified chain":            {PeerCertificates: []*x509.Certificate{cs.cert}},
		"foreign chain":                {VerifiedChains: [][]*x509.Certificate{{foreignLeaf, e.foreign.cert}}},
		"foreign leaf under the admin": {VerifiedChains: [][]*x509.Certificate{{foreignLeaf, e.admin.cert}}},
		"officer under another CA":     {VerifiedChains: [][]*x509.Certificate{{cs.cert, e.foreign.cert}}},
	} {
		req := httptest.NewRequest("GET", "/cs/", nil)
		req.TLS = state
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != 403 || !strings.Contains(rec.Body.String(), "Akses ditolak") {
			t.Errorf("%s: %d\n%s", name, rec.Code, rec.Body)
		}
	}
	req := httptest.NewRequest("GET", "/cs/", nil)
	req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cs.cert, e.admin.cert}}}
	rec := httptest.NewRecorder()
	e.srv.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("the officer's own chain without the listener: %d", rec.Code)
	}
}
