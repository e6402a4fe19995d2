package main

// HTTP clients of the in-process end-to-end tests (see
// review_e2e_helpers_test.go): a portal browser with a cookie jar, console
// clients over mTLS with or without a client certificate, the applicants
// of the tests and the files they upload.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"github.com/psre/appliance/internal/testpdf"
	"html"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rvClient is one browser: a cookie jar, redirects not followed (each hop
// is checked), the CSRF token of the last page that had one, and for the
// console a client certificate or none.
type rvClient struct {
	t     *testing.T
	base  string
	http  *http.Client
	token string
}

// rvResp is one answer, or the error of a request that got none.
type rvResp struct {
	status int
	header http.Header
	body   string
	err    error
}

func (r rvResp) location() string { return r.header.Get("Location") }

func (r rvResp) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, r.location())
}

func rvJar(t *testing.T) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

// portalClient is a browser of the portal with an empty cookie jar.
func (s *rvService) portalClient(t *testing.T) *rvClient {
	return &rvClient{t: t, base: s.portal, http: &http.Client{Jar: rvJar(t), Timeout: rvTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// consoleClient is a browser of the console that presents cert (nil:
// none) and trusts the demo root, with jar (nil: a fresh one).
func (s *rvService) consoleClient(t *testing.T, cert *tls.Certificate, jar http.CookieJar) *rvClient {
	t.Helper()
	root, err := os.ReadFile(filepath.Join(s.dir, "pki", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(root) {
		t.Fatal("pki/root.pem holds no certificate")
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost"} // the server sends its admin CA with its certificate
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	if jar == nil {
		jar = rvJar(t)
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &rvClient{t: t, base: s.console, http: &http.Client{Transport: tr, Jar: jar, Timeout: rvTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// rvOfficerCert loads DIR/officers/BASE.crt and BASE.key.
func rvOfficerCert(t *testing.T, dir, base string) *tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, "officers", base+".crt"), filepath.Join(dir, "officers", base+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// officer is a console client with the demo officer's certificate
// (base cs, ra or auditor) that holds a CSRF token of its session.
func (s *rvService) officer(t *testing.T, base string) *rvClient {
	t.Helper()
	c := s.consoleClient(t, rvOfficerCert(t, s.dir, base), nil)
	home := map[string]string{"cs": "/cs/", "ra": "/ra/", "auditor": "/audit/"}[base]
	if r := c.get(home); r.status != http.StatusOK || c.token == "" {
		t.Fatalf("%s's console home %s: %v (token %q)\n%s", base, home, r, c.token, r.body)
	}
	return c
}

var rvTokenRE = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// do sends req as this browser would: same-origin Origin on POSTs.
func (c *rvClient) do(req *http.Request) rvResp {
	c.t.Helper()
	if req.Method == http.MethodPost {
		req.Header.Set("Origin", c.base)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return rvResp{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return rvResp{err: err}
	}
	if m := rvTokenRE.FindSubmatch(b); m != nil {
		c.token = html.UnescapeString(string(m[1]))
	}
	return rvResp{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *rvClient) request(method, target string, body io.Reader) *http.Request {
	c.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = c.base + target
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return req
}

func (c *rvClient) get(target string) rvResp {
	c.t.Helper()
	return c.do(c.request(http.MethodGet, target, nil))
}

// postForm posts a urlencoded form with this session's CSRF token.
func (c *rvClient) postForm(path string, form url.Values) rvResp {
	c.t.Helper()
	return c.postFormToken(path, form, true)
}

func (c *rvClient) postFormToken(path string, form url.Values, withToken bool) rvResp {
	c.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = append([]string(nil), v...)
	}
	if withToken {
		f.Set("csrf_token", c.token)
	}
	req := c.request(http.MethodPost, path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// rvFile is one file of a multipart form.
type rvFile struct {
	field, name string
	data        []byte
}

// postMultipart posts a multipart form with this session's CSRF token.
func (c *rvClient) postMultipart(path string, form url.Values, files ...rvFile) rvResp {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf_token", c.token)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	for _, f := range files {
		fw, err := mw.CreateFormFile(f.field, f.name)
		if err != nil {
			c.t.Fatal(err)
		}
		_, _ = fw.Write(f.data)
	}
	_ = mw.Close()
	req := c.request(http.MethodPost, path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// postImage posts a raw image as the wizard's script does, the CSRF
// token in a header.
func (c *rvClient) postImage(path, ctype string, img []byte) rvResp {
	c.t.Helper()
	req := c.request(http.MethodPost, path, bytes.NewReader(img))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("X-CSRF-Token", c.token)
	return c.do(req)
}

// must fails unless r has status and (for a redirect) Location loc.
func (c *rvClient) must(what string, r rvResp, status int, loc string) rvResp {
	c.t.Helper()
	if r.err != nil || r.status != status || (loc != "" && r.location() != loc) {
		c.t.Fatalf("%s: %v, want %d %s\n%s", what, r, status, loc, rvSnippet(r.body))
	}
	return r
}

func rvSnippet(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

// rvText is the text of the element with id in a page, tags removed.
func rvText(body, id string) string {
	m := regexp.MustCompile(`(?s)id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</(dd|p|span|strong|div|section|dl|td|h1)>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], "")))
}

var rvStateRE = regexp.MustCompile(`data-state="([a-z_]*)"`)

// accountState is the state the applicant's account page shows.
func (c *rvClient) accountState() string {
	c.t.Helper()
	r := c.must("GET /account", c.get("/account"), http.StatusOK, "")
	m := rvStateRE.FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("account page without data-state:\n%s", rvSnippet(r.body))
	}
	return m[1]
}

// ---- applicants ----

// rvApplicant is what a person types into the wizard, and what the RA
// should read from the NIK.
type rvApplicant struct {
	nik, name, birth, username, password, email, phone string
	province                                           string // of the NIK's first two digits
	seed                                               int    // makes this applicant's pictures their own
}

func rvBudi() rvApplicant {
	return rvApplicant{nik: "3171011208900001", name: "Budi Santoso", birth: "1990-08-12", username: "budi.santoso",
		password: "kuda-lari-di-pantai", email: "budi@example.co.id", phone: "0812-3456-7890", province: "DKI Jakarta", seed: 1}
}

func rvSiti() rvApplicant {
	return rvApplicant{nik: "3273015505920002", name: "Siti Rahayu", birth: "1992-05-15", username: "siti.rahayu",
		password: "hujan-turun-sore-ini", email: "siti@example.co.id", phone: "0813-1111-2222", province: "Jawa Barat", seed: 2}
}

// register runs the registration wizard to its end, as a browser would.
func (c *rvClient) register(a rvApplicant) {
	c.t.Helper()
	c.must("GET /register", c.get("/register"), http.StatusSeeOther, "/register/identitas")
	c.must("GET /register/identitas", c.get("/register/identitas"), http.StatusOK, "")
	c.must("step 1", c.postForm("/register/identitas", url.Values{"nik": {a.nik}, "name": {a.name},
		"birth_date": {a.birth}, "action": {"next"}}), http.StatusSeeOther, "/register/akun")
	c.must("step 2", c.postForm("/register/akun", url.Values{"username": {a.username}, "password": {a.password},
		"password_confirm": {a.password}, "email": {a.email}, "phone": {a.phone}, "action": {"next"}}), http.StatusSeeOther, "/register/foto")
	c.must("GET /register/foto", c.get("/register/foto"), http.StatusOK, "")
	for _, img := range []struct{ path, ctype string }{{"/register/selfie", "image/jpeg"}, {"/register/specimen", "image/png"}} {
		data := rvJPEG(c.t, 480, 480, a.seed)
		if img.ctype == "image/png" {
			data = rvPNG(c.t, 300, 100, a.seed)
		}
		if r := c.postImage(img.path, img.ctype, data); r.status != http.StatusOK || !strings.Contains(r.body, `"ok":true`) {
			c.t.Fatalf("%s: %v %s", img.path, r, r.body)
		}
	}
	c.must("Simpan Data", c.postMultipart("/register/foto", url.Values{"captcha": {"123456"},
		"consent": {privacyPolicyVersion}, "action": {"save"}}, rvFile{"ktp_photo", "ktp.jpg", rvJPEG(c.t, 640, 400, a.seed)}),
		http.StatusSeeOther, "/register/selesai")
}

// login logs in and lands on the account page.
func (c *rvClient) login(a rvApplicant) {
	c.t.Helper()
	c.must("GET /login", c.get("/login"), http.StatusOK, "")
	c.must("login of "+a.username, c.postForm("/login", url.Values{"login": {a.username}, "password": {a.password}}),
		http.StatusSeeOther, "/account")
}

// ---- files ----

func rvPattern(w, h, seed int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x*255/w + seed*40), uint8(y*255/h + seed*17), uint8((x*seed + y) % 256), 255})
		}
	}
	return img
}

func rvJPEG(t *testing.T, w, h, seed int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, rvPattern(w, h, seed), &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rvPNG(t *testing.T, w, h, seed int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, rvPattern(w, h, seed)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rvPDF is a well-formed PDF of n empty pages.
func rvPDF(n int) []byte { return testpdf.Minimal(n, "") }
