package main

// The authorisation matrix: every portal route and every console route,
// asked by every kind of caller, each answer asserted, and every refused
// POST shown to change nothing. The service runs in this process (see
// review_e2e_helpers_test.go).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// authzEnv is the service with two applicants, the officers and the
// foreign caller, in the states the matrix expects: applicant A (Budi)
// has paid and uploaded the proof (payment_submitted), applicant B (Siti)
// asked for verification (verification_requested).
type authzEnv struct {
	svc             *rvService
	a, b, anon      *rvClient // the portal
	cs, ra, auditor *rvClient // the console, demo officers
	idA, idB        string
	invoiceA        string
	console, portal map[string]string // message catalogs (Indonesian)
	budi, siti      rvApplicant
}

// The columns of the console matrix, in the order of the want arrays.
var authzConsoleColumns = [8]string{"anonymous", "applicant A", "applicant B", "cs", "ra", "auditor", "disabled RA", "foreign CA"}

// Answers without HTTP: the console's TLS handshake fails.
const (
	authzNoCert  = "tls: certificate required"          // no client certificate
	authzForeign = "tls: unknown certificate authority" // a certificate the admin CA did not sign
)

// authzForeignCert is a client certificate from a CA made here with the
// admin CA's exact subject name: an impostor only signatures tell apart.
func authzForeignCert(t *testing.T, dir string) *tls.Certificate {
	t.Helper()
	admin, err := readCertFile(filepath.Join(dir, "pki", "admin.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), RawSubject: admin.RawSubject, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Subject.String() != admin.Subject.String() {
		t.Fatalf("foreign CA %s, want the admin CA's name %s", ca.Subject, admin.Subject)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Demo CS"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
}

// authzSetup registers both applicants and moves their applications to
// the matrix's states over HTTP.
func authzSetup(t *testing.T, svc *rvService, relay *rvRelay) *authzEnv {
	t.Helper()
	e := &authzEnv{svc: svc, budi: rvBudi(), siti: rvSiti()}
	e.a, e.b, e.anon = svc.portalClient(t), svc.portalClient(t), svc.portalClient(t)
	e.a.register(e.budi)
	e.a.login(e.budi)
	e.b.register(e.siti)
	e.b.login(e.siti)
	e.cs, e.ra, e.auditor = svc.officer(t, "cs"), svc.officer(t, "ra"), svc.officer(t, "auditor")

	e.a.must("A asks for verification", e.a.postForm("/account/verification", nil), http.StatusSeeOther, "/account")
	e.idA = rvQueueID(t, e.cs.get("/cs/").body, "requested", e.budi.name)
	e.cs.must("invoice A", e.cs.postForm("/cs/applications/"+e.idA+"/invoice", nil), http.StatusSeeOther, "/cs/?done=invoice_issued")
	e.invoiceA = rvText(e.a.must("A's invoice", e.a.get("/account/invoice"), http.StatusOK, "").body, "invoice-number")
	e.a.must("A's proof", e.a.postMultipart("/account/payment-proof", nil, rvFile{"proof", "bukti.pdf", rvPDF(1)}), http.StatusSeeOther, "/account")
	e.b.must("B asks for verification", e.b.postForm("/account/verification", nil), http.StatusSeeOther, "/account")
	e.idB = rvQueueID(t, e.cs.get("/cs/").body, "requested", e.siti.name)
	if s := e.a.accountState(); s != "payment_submitted" || e.invoiceA == "" {
		t.Fatalf("A: state %s, invoice %q", s, e.invoiceA)
	}
	if s := e.b.accountState(); s != "verification_requested" {
		t.Fatalf("B: state %s", s)
	}
	for range 3 { // request_received, payment_instructions, request_received
		relay.next(t)
	}
	// The anonymous visitor holds a CSRF cookie and token, as a browser
	// that loaded a page does.
	e.anon.must("anonymous GET /", e.anon.get("/"), http.StatusOK, "")

	e.console = authzCatalog(t, "console/messages/id.json")
	e.portal = authzCatalog(t, "enrollment/portal/messages/id.json")
	return e
}

// authzCatalog reads a message catalog of the repository (Indonesian):
// the tests tell refusals apart by the message they show.
func authzCatalog(t *testing.T, rel string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]string
	if err := json.Unmarshal(raw, &cat); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return cat
}

// authzCovers fails unless the requests of a matrix ("METHOD /path?query")
// reach every route pattern registered in the source file rel (found with
// re), so that a route added later cannot miss the matrix. A mux with the
// same patterns says which pattern each request reaches.
func authzCovers(t *testing.T, rel, re string, requests []string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	routes := map[string]bool{}
	for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(string(src), -1) {
		mux.HandleFunc(m[1], func(http.ResponseWriter, *http.Request) {})
		routes[m[1]] = false
	}
	if len(routes) < 10 {
		t.Fatalf("%s: found only %d routes with %s", rel, len(routes), re)
	}
	for _, q := range requests {
		method, target, _ := strings.Cut(q, " ")
		req, err := http.NewRequest(method, "http://x"+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, pattern := mux.Handler(req); pattern != "" {
			routes[pattern] = true
		}
	}
	for pattern, covered := range routes {
		if !covered {
			t.Errorf("route %q of %s is not in the matrix", pattern, rel)
		}
	}
}

var (
	authzHistoryRE = regexp.MustCompile(`(?s)<ol class="history">(.*?)</ol>`)
	authzSeqRE     = regexp.MustCompile(`<td class="seq">([0-9]+)</td>`)
)

// snapshot is what a POST could change: both applications as CS sees
// them (state and history) and the head of the audit log, which every
// transition appends to.
func (e *authzEnv) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, id := range []string{e.idA, e.idB} {
		r := e.cs.must("CS page "+id, e.cs.get("/cs/applications/"+id), http.StatusOK, "")
		h := authzHistoryRE.FindStringSubmatch(r.body)
		if h == nil {
			t.Fatalf("CS page of %s without history", id)
		}
		b.WriteString(id + ": " + rvText(r.body, "state") + " " + h[1] + "\n")
	}
	r := e.auditor.must("audit head", e.auditor.get("/audit/?limit=1"), http.StatusOK, "")
	m := authzSeqRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("audit page without records")
	}
	b.WriteString("audit head " + m[1])
	return b.String()
}

// authzCheck asserts one cell: want is "STATUS" or "STATUS LOCATION", or
// the TLS error of a failed handshake.
func authzCheck(t *testing.T, cell string, r rvResp, want string) bool {
	t.Helper()
	if strings.HasPrefix(want, "tls: ") {
		if r.err == nil || !strings.Contains(r.err.Error(), want) {
			t.Errorf("%s: %v, want the handshake to fail with %q", cell, r, want)
			return false
		}
		return true
	}
	code, loc, _ := strings.Cut(want, " ")
	status, err := strconv.Atoi(code)
	if err != nil {
		t.Fatalf("bad expectation %q", want)
	}
	if r.err != nil || r.status != status || (status/100 == 3 && r.location() != loc) {
		t.Errorf("%s: %v, want %s\n%s", cell, r, want, rvSnippet(r.body))
		return false
	}
	return true
}

// A portal request: sent by c, with c's CSRF token where it posts.
type authzSend func(c *rvClient, path string) rvResp

func authzGet(c *rvClient, path string) rvResp { return c.get(path) }

func authzForm(f url.Values) authzSend {
	return func(c *rvClient, path string) rvResp { return c.postForm(path, f) }
}

func authzFormNoToken(f url.Values) authzSend {
	return func(c *rvClient, path string) rvResp { return c.postFormToken(path, f, false) }
}

func authzFiles(f url.Values, fs ...rvFile) authzSend {
	return func(c *rvClient, path string) rvResp { return c.postMultipart(path, f, fs...) }
}

func authzImage(ctype string, img []byte) authzSend {
	return func(c *rvClient, path string) rvResp { return c.postImage(path, ctype, img) }
}

func authzOCSP(der []byte) authzSend {
	return func(c *rvClient, path string) rvResp {
		req := c.request(http.MethodPost, path, strings.NewReader(string(der)))
		req.Header.Set("Content-Type", "application/ocsp-request")
		return c.do(req)
	}
}

func TestAuthzMatrix(t *testing.T) {
	dir := rvInitDemo(t)
	// The disabled officer, made and disabled with the CLI before the
	// service starts (the CLI then works on the files). Through the admin
	// socket of the running service these commands are refused: see the
	// last subtest.
	for _, args := range [][]string{
		{"officer", "add", "--state", dir, "--name", "Disabled RA", "--role", "ra"},
		{"officer", "disable", "--state", dir, "--name", "Disabled RA"},
	} {
		if out, err := rvCLI(t, args...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	relay, pool := rvNewRelay(t)
	sms := rvNewSMSSink(t)
	svc := rvStart(t, dir, rvNotify{relay: relay.addr, pool: pool, sms: sms.srv.URL})
	e := authzSetup(t, svc, relay)

	// The console first: its applicant columns use the applicants'
	// browsers while their portal sessions live (the portal matrix ends
	// with the logout).
	t.Run("console", func(t *testing.T) { authzConsole(t, e, dir) })
	t.Run("portal", func(t *testing.T) { authzPortal(t, e) })
	t.Run("officer commands through the admin socket", func(t *testing.T) { authzSocketOfficer(t, e, dir) })
}

// authzPortal: every portal route × {anonymous, applicant A, applicant B}.
// Officers have no portal identity (their client certificate is for the
// console, the portal is plain HTTP and asks for none): to the portal an
// officer is an anonymous visitor, so the anonymous column is theirs too.
func authzPortal(t *testing.T, e *authzEnv) {
	cert, err := readCertFile(filepath.Join(e.svc.dir, "officers", "cs.crt"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := readCertFile(filepath.Join(e.svc.dir, "pki", "admin.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ocspReq, err := ocsp.CreateRequest(cert, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	proof := rvPDF(1)
	next := func(p string) string { return "303 /login?" + url.Values{"next": {p}}.Encode() }

	rows := []struct {
		method, path string
		send         authzSend // nil: GET
		want         [3]string // anonymous, applicant A, applicant B
	}{
		// Public pages and the registration wizard (no session step is
		// complete for anyone here).
		{"GET", "/", nil, [3]string{"200", "200", "200"}},
		{"GET", "/privacy", nil, [3]string{"200", "200", "200"}},
		{"GET", "/static/portal.css", nil, [3]string{"200", "200", "200"}},
		{"GET", "/register", nil, [3]string{"303 /register/identitas", "303 /register/identitas", "303 /register/identitas"}},
		{"GET", "/register/identitas", nil, [3]string{"200", "200", "200"}},
		{"GET", "/register/akun", nil, [3]string{"303 /register/identitas", "303 /register/identitas", "303 /register/identitas"}},
		{"GET", "/register/foto", nil, [3]string{"303 /register/identitas", "303 /register/identitas", "303 /register/identitas"}},
		{"GET", "/register/preview/selfie", nil, [3]string{"404", "404", "404"}},
		{"GET", "/register/selesai", nil, [3]string{"200", "200", "200"}},
		{"GET", "/captcha/0123456789.png", nil, [3]string{"404", "404", "404"}},
		{"GET", "/login", nil, [3]string{"200", "200", "200"}},
		// "My application": the applicant comes from the session only.
		{"GET", "/account", nil, [3]string{"303 /login", "200", "200"}},
		{"GET", "/account/invoice", nil, [3]string{next("/account/invoice"), "200", "404"}},
		{"GET", "/account/corrections", nil, [3]string{next("/account/corrections"), "303 /account", "303 /account"}},
		{"GET", "/account/profile", nil, [3]string{next("/account/profile"), "200", "200"}},
		{"GET", "/account/certificate.pem", nil, [3]string{next("/account/certificate.pem"), "404", "404"}},
		{"GET", "/account/certificate.cer", nil, [3]string{next("/account/certificate.cer"), "404", "404"}},
		{"GET", "/account/certificate.p7b", nil, [3]string{next("/account/certificate.p7b"), "404", "404"}},
		// Activation: neither application awaits it (409).
		{"GET", "/aktivasi?token=bogus", nil, [3]string{next("/aktivasi?token=bogus"), "409", "409"}},
		{"GET", "/aktivasi/email", nil, [3]string{next("/aktivasi/email"), "409", "409"}},
		{"GET", "/aktivasi/telepon", nil, [3]string{next("/aktivasi/telepon"), "409", "409"}},
		// Tandatangan: neither application is issued (409); no signed file waits (404).
		{"GET", "/tandatangan", nil, [3]string{next("/tandatangan"), "409", "409"}},
		{"GET", "/tandatangan/preview.png", nil, [3]string{next("/tandatangan/preview.png"), "409", "409"}},
		{"GET", "/tandatangan/signed.pdf", nil, [3]string{next("/tandatangan/signed.pdf"), "404", "404"}},
		{"GET", "/no-such-page", nil, [3]string{"404", "404", "404"}},
		{"GET", "/dev/mailbox", nil, [3]string{"404", "404", "404"}}, // the demo's mailbox is off
		// The repository is public.
		{"GET", "/crl/issuing.crl", nil, [3]string{"200", "200", "200"}},
		{"GET", "/certs/root.pem", nil, [3]string{"200", "200", "200"}},
		{"GET", "/healthz", nil, [3]string{"200", "200", "200"}},
		{"POST", "/ocsp", authzOCSP(ocspReq), [3]string{"200", "200", "200"}},
		// POSTs, each with the caller's valid CSRF token.
		{"POST", "/register/identitas", authzForm(nil), [3]string{"303 /register/identitas", "303 /register/identitas", "303 /register/identitas"}},
		{"POST", "/register/akun", authzForm(nil), [3]string{"303 /register/identitas", "303 /register/identitas", "303 /register/identitas"}},
		{"POST", "/register/foto", authzFiles(nil), [3]string{"303 /register/identitas", "303 /register/identitas", "303 /register/identitas"}},
		{"POST", "/register/selfie", authzImage("image/jpeg", rvJPEG(t, 480, 480, 9)), [3]string{"409", "409", "409"}},
		{"POST", "/register/specimen", authzImage("image/png", rvPNG(t, 300, 100, 9)), [3]string{"409", "409", "409"}},
		{"POST", "/register/captcha", authzForm(nil), [3]string{"303 /register/foto", "303 /register/foto", "303 /register/foto"}},
		{"POST", "/account/verification", authzForm(nil), [3]string{"303 /login", "303 /account", "303 /account"}},
		{"POST", "/account/payment-proof", authzFiles(nil, rvFile{"proof", "bukti.pdf", proof}), [3]string{"303 /login", "303 /account", "303 /account"}},
		{"POST", "/account/corrections", authzFiles(url.Values{"name": {"Nama Lain"}}), [3]string{"303 /login", "303 /account", "303 /account"}},
		{"POST", "/aktivasi", authzForm(url.Values{"token": {"bogus"}}), [3]string{"303 /login", "409", "409"}},
		{"POST", "/aktivasi/email", authzForm(url.Values{"code": {"123456"}}), [3]string{"303 /login", "409", "409"}},
		{"POST", "/aktivasi/email/kirim-ulang", authzForm(nil), [3]string{"303 /login", "409", "409"}},
		{"POST", "/aktivasi/telepon", authzForm(url.Values{"code": {"123456"}, "consent_issuance": {"on"}, "consent_ownership": {"on"}}), [3]string{"303 /login", "409", "409"}},
		{"POST", "/aktivasi/telepon/kirim-ulang", authzForm(nil), [3]string{"303 /login", "409", "409"}},
		{"POST", "/account/revoke/code", authzForm(nil), [3]string{"303 /login", "303 /account/profile", "303 /account/profile"}},
		{"POST", "/account/revoke", authzForm(url.Values{"reason": {"1"}, "code": {"123456"}, "password": {"x"}}), [3]string{"303 /login", "303 /account/profile", "303 /account/profile"}},
		{"POST", "/tandatangan", authzFiles(nil, rvFile{"pdf", "dokumen.pdf", proof}), [3]string{"303 /login", "409", "409"}},
		{"POST", "/tandatangan/kode", authzForm(nil), [3]string{"303 /login", "409", "409"}},
		{"POST", "/tandatangan/tandatangani", authzForm(url.Values{"code": {"123456"}, "password": {"x"}}), [3]string{"303 /login", "409", "409"}},
		{"POST", "/tandatangan/hapus", authzForm(nil), [3]string{"303 /login", "303 /tandatangan", "303 /tandatangan"}},
		// Without the CSRF token every POST is refused before its handler.
		{"POST", "/account/verification", authzFormNoToken(nil), [3]string{"403", "403", "403"}},
		{"POST", "/logout", authzFormNoToken(nil), [3]string{"403", "403", "403"}},
		// Failed logins last but one (they count towards the throttle of
		// 127.0.0.1), the logout last (it ends the sessions).
		{"POST", "/login", authzForm(url.Values{"login": {"budi.santoso"}, "password": {"salah-sekali-pokoknya"}}), [3]string{"200", "200", "200"}},
		{"POST", "/logout", authzForm(nil), [3]string{"303 /", "303 /", "303 /"}},
	}
	var patterns []string
	for _, row := range rows {
		patterns = append(patterns, row.method+" "+row.path)
	}
	authzCovers(t, "enrollment/portal/server.go", `mux\.HandleFunc\("([^"]+)"`, patterns)
	forbidden := html.EscapeString(e.portal["error.forbidden"])
	who := [3]*rvClient{e.anon, e.a, e.b}
	names := [3]string{"anonymous", "applicant A", "applicant B"}

	// What the 200s of /account and /account/invoice hold: each applicant
	// sees their own application, never the other's.
	t.Run("own application only", func(t *testing.T) {
		for _, tc := range []struct {
			c          *rvClient
			own, other rvApplicant
		}{{e.a, e.budi, e.siti}, {e.b, e.siti, e.budi}} {
			r := tc.c.get("/account")
			if rvText(r.body, "account-name") != tc.own.name || strings.Contains(r.body, tc.other.name) {
				t.Errorf("%s's account page shows %q (or %s)", tc.own.username, rvText(r.body, "account-name"), tc.other.name)
			}
		}
		if r := e.b.get("/account/invoice"); strings.Contains(r.body, e.invoiceA) {
			t.Errorf("B's invoice page shows A's invoice %s", e.invoiceA)
		}
	})
	for _, row := range rows {
		for i, c := range who {
			send := row.send
			if send == nil {
				send = authzGet
			}
			cell := row.method + " " + row.path + " as " + names[i]
			var before string
			if row.method == http.MethodPost && row.path != "/ocsp" {
				before = e.snapshot(t)
			}
			r := send(c, row.path)
			authzCheck(t, cell, r, row.want[i])
			if row.want[i] == "403" && !strings.Contains(r.body, forbidden) {
				t.Errorf("%s: 403 without %q", cell, e.portal["error.forbidden"])
			}
			if row.method+" "+row.path == "POST /login" && !strings.Contains(r.body, `id="login-error"`) {
				t.Errorf("%s: no login error shown", cell)
			}
			if before != "" {
				if after := e.snapshot(t); after != before {
					t.Errorf("%s changed the applications or the audit log:\nbefore %s\nafter  %s", cell, before, after)
				}
			}
		}
	}

	t.Run("the logout ended the sessions", func(t *testing.T) {
		for i, c := range who[1:] {
			if r := c.get("/account"); r.status != http.StatusSeeOther || r.location() != "/login" {
				t.Errorf("%s after logout: %v", names[i+1], r)
			}
		}
	})
}

// authzConsole: every console route × {anonymous, applicant A, applicant
// B, cs, ra, auditor, disabled RA officer, foreign CA}.
func authzConsole(t *testing.T, e *authzEnv, dir string) {
	cols := [8]*rvClient{
		e.svc.consoleClient(t, nil, nil),
		e.svc.consoleClient(t, nil, e.a.http.Jar), // A's browser, with its portal cookies
		e.svc.consoleClient(t, nil, e.b.http.Jar),
		e.cs, e.ra, e.auditor,
		e.svc.consoleClient(t, rvOfficerCert(t, dir, "disabled-ra"), nil),
		e.svc.consoleClient(t, authzForeignCert(t, dir), nil),
	}
	a, b := e.idA, e.idB
	reason := url.Values{"reason": {"Alasan uji matriks"}}
	fieldReason := url.Values{"reason": {"Alasan uji matriks"}, "field": {"name"}}
	// A is in payment_submitted, B in verification_requested: every
	// authorised POST below asks for a transition the state does not allow
	// (409), so that no cell changes anything.
	nc, fc := authzNoCert, authzForeign // the handshake fails: no certificate, foreign certificate
	rows := []struct {
		method, path string
		form         url.Values
		want         [8]string // anonymous, applicant A, applicant B, cs, ra, auditor, disabled RA, foreign CA
	}{
		{"GET", "/", nil, [8]string{nc, nc, nc, "303 /cs/", "303 /ra/", "303 /audit/", "403", fc}},
		{"GET", "/static/console.css", nil, [8]string{nc, nc, nc, "200", "200", "200", "403", fc}},
		{"GET", "/cs/", nil, [8]string{nc, nc, nc, "200", "403", "403", "403", fc}},
		{"GET", "/cs/applications/" + a, nil, [8]string{nc, nc, nc, "200", "403", "403", "403", fc}},
		{"GET", "/cs/applications/" + a + "/proof", nil, [8]string{nc, nc, nc, "200", "403", "403", "403", fc}},
		{"GET", "/cs/applications/no-such-application", nil, [8]string{nc, nc, nc, "404", "403", "403", "403", fc}},
		{"POST", "/cs/applications/" + a + "/invoice", nil, [8]string{nc, nc, nc, "409", "403", "403", "403", fc}},
		{"POST", "/cs/applications/" + b + "/confirm", nil, [8]string{nc, nc, nc, "409", "403", "403", "403", fc}},
		{"POST", "/cs/applications/" + b + "/reject", reason, [8]string{nc, nc, nc, "409", "403", "403", "403", fc}},
		{"GET", "/cs/no-such-page", nil, [8]string{nc, nc, nc, "404", "403", "403", "403", fc}},
		{"GET", "/ra/", nil, [8]string{nc, nc, nc, "403", "200", "403", "403", fc}},
		{"GET", "/ra/applications/" + a, nil, [8]string{nc, nc, nc, "403", "200", "403", "403", fc}},
		{"GET", "/ra/applications/" + a + "/image/ktp_photo", nil, [8]string{nc, nc, nc, "403", "200", "403", "403", fc}},
		{"GET", "/ra/applications/" + a + "/image/selfie", nil, [8]string{nc, nc, nc, "403", "200", "403", "403", fc}},
		{"GET", "/ra/applications/" + a + "/image/specimen", nil, [8]string{nc, nc, nc, "403", "200", "403", "403", fc}},
		{"GET", "/ra/applications/" + a + "/image/passport", nil, [8]string{nc, nc, nc, "403", "404", "403", "403", fc}},
		{"POST", "/ra/applications/" + a + "/approve", nil, [8]string{nc, nc, nc, "403", "409", "403", "403", fc}},
		{"POST", "/ra/applications/" + a + "/reject-correctable", fieldReason, [8]string{nc, nc, nc, "403", "409", "403", "403", fc}},
		{"POST", "/ra/applications/" + a + "/reject-final", reason, [8]string{nc, nc, nc, "403", "409", "403", "403", fc}},
		{"GET", "/ra/no-such-page", nil, [8]string{nc, nc, nc, "403", "404", "403", "403", fc}},
		{"GET", "/audit/", nil, [8]string{nc, nc, nc, "403", "403", "200", "403", fc}},
		{"POST", "/audit/verify", nil, [8]string{nc, nc, nc, "403", "403", "200", "403", fc}},
		{"GET", "/audit/no-such-page", nil, [8]string{nc, nc, nc, "403", "403", "404", "403", fc}},
		{"GET", "/no-such-page", nil, [8]string{nc, nc, nc, "404", "404", "404", "403", fc}},
	}
	var patterns []string
	for _, row := range rows {
		patterns = append(patterns, row.method+" "+row.path)
	}
	authzCovers(t, "console/console.go", `c\.handle\(mux, "([^"]+)"`, patterns)
	denied := html.EscapeString(e.console["error.denied"])
	wrongRole := html.EscapeString(e.console["error.wrong_role"])
	for _, row := range rows {
		for i, c := range cols {
			cell := row.method + " " + row.path + " as " + authzConsoleColumns[i]
			var r rvResp
			var before string
			if row.method == http.MethodPost {
				before = e.snapshot(t)
				r = c.postForm(row.path, row.form) // the officer's own CSRF token; the others have none
			} else {
				r = c.get(row.path)
			}
			if authzCheck(t, cell, r, row.want[i]) {
				switch {
				case row.want[i] == "403" && authzConsoleColumns[i] == "disabled RA" && !strings.Contains(r.body, denied):
					t.Errorf("%s: 403 without %q", cell, e.console["error.denied"])
				case row.want[i] == "403" && i >= 3 && i <= 5 && !strings.Contains(r.body, wrongRole):
					t.Errorf("%s: 403 without %q", cell, e.console["error.wrong_role"])
				}
			}
			if before != "" {
				if after := e.snapshot(t); after != before {
					t.Errorf("%s changed the applications or the audit log:\nbefore %s\nafter  %s", cell, before, after)
				}
			}
		}
	}

	t.Run("a POST without the CSRF token", func(t *testing.T) {
		before := e.snapshot(t)
		r := e.cs.postFormToken("/cs/applications/"+b+"/invoice", nil, false) // would be allowed with the token
		if authzCheck(t, "CS invoice without token", r, "403") && !strings.Contains(r.body, html.EscapeString(e.console["error.csrf"])) {
			t.Errorf("403 without %q", e.console["error.csrf"])
		}
		if after := e.snapshot(t); after != before {
			t.Errorf("a refused POST changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// authzSocketOfficer adds and disables an officer through the running
// service's admin socket, as an administrator would, and checks that the
// console refuses the disabled officer.
func authzSocketOfficer(t *testing.T, e *authzEnv, dir string) {
	out, err := rvCLI(t, "officer", "add", "--state", dir, "--name", "Socket RA", "--role", "ra")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := e.svc.consoleClient(t, rvOfficerCert(t, dir, "socket-ra"), nil)
	authzCheck(t, "new RA officer", c.get("/ra/"), "200")
	if out, err := rvCLI(t, "officer", "disable", "--state", dir, "--name", "Socket RA"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	authzCheck(t, "the same officer, disabled", c.get("/ra/"), "403")
}
