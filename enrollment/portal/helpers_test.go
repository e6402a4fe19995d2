package portal_test

import (
	"bytes"
	"context"
	"html"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/portal"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	"github.com/psre/appliance/store"
)

// env is one portal on a real SoftHSM KEK and a real bbolt file, served
// by an httptest server on 127.0.0.1.
type env struct {
	t     testing.TB
	p     *portal.Portal
	svc   *enrollment.Service
	db    *store.DB
	srv   *httptest.Server
	logs  *syncBuffer
	clock *clock
	kek   *hsm.KEK
	keys  *tokenKeys // subscribers' keys on the SoftHSM "users" token
	ca    *testCA    // the issuing CA of activation
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const policy = "privacy-2026-11"

func newEnv(t testing.TB) *env {
	t.Helper()
	hsmEnv := hsmtest.New(t)
	tok := hsmEnv.Token(t, "ca")
	ctx := context.Background()
	uri, err := tok.GenerateSecretKey(ctx, "kek")
	if err != nil {
		t.Fatal(err)
	}
	kek, err := tok.KEK(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "appliance.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := enrollment.NewService(db, kek, log)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, svc: svc, db: db, logs: logs, clock: &clock{t: time.Now()}, kek: kek,
		keys: &tokenKeys{t: t, env: hsmEnv, tok: hsmEnv.Token(t, "users")}, ca: newTestCA(t, db)}
	// The server's address is known before it starts, so that the links
	// in the workflow's emails point at it.
	srv := httptest.NewUnstartedServer(nil)
	if err := svc.WithWorkflow(enrollment.WorkflowConfig{Effects: recordingEffects{}, PortalURL: "http://" + srv.Listener.Addr().String(),
		Invoice: enrollment.InvoiceConfig{Amount: 150000, BankName: "Bank Contoh", AccountNumber: "1234567890",
			AccountName: "PT PSrE Contoh", VirtualAccountPrefix: "8808"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.WithActivation(enrollment.ActivationConfig{Keys: e.keys, Authority: e.ca, Consents: consentsInForce}); err != nil {
		t.Fatal(err)
	}
	e.p, err = portal.New(portal.Config{Service: svc, DB: db, CSRFKey: bytes.Repeat([]byte{7}, 32),
		Logger: log, Now: e.clock.Now, PrivacyPolicyVersion: policy})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = e.p.Handler()
	srv.Start()
	e.srv = srv
	t.Cleanup(e.srv.Close)
	return e
}

// browser is an HTTP client with a cookie jar that follows redirects by
// hand (so that tests see every hop) and keeps the last page's CSRF token.
type browser struct {
	t     testing.TB
	e     *env
	c     *http.Client
	token string
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{t: e.t, e: e, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
	path   string // where the redirects ended
}

var tokenRE = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

// do sends req and follows up to 10 redirects with GETs.
func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	for range 10 {
		resp, err := b.c.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.t.Fatal(err)
		}
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			next, err := req.URL.Parse(loc)
			if err != nil {
				b.t.Fatal(err)
			}
			req, _ = http.NewRequest(http.MethodGet, next.String(), nil)
			continue
		}
		if m := tokenRE.FindSubmatch(body); m != nil {
			b.token = html.UnescapeString(string(m[1]))
		}
		return page{status: resp.StatusCode, header: resp.Header, body: string(body), path: req.URL.Path}
	}
	b.t.Fatal("too many redirects")
	return page{}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits a form with the CSRF token of the last page.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	form = cloneValues(form)
	form.Set("csrf_token", b.token)
	return b.postRaw(path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), nil)
}

func (b *browser) postRaw(path, ctype string, body io.Reader, header http.Header) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range header {
		req.Header[k] = v
	}
	return b.do(req)
}

// postMultipart submits the step-3 form with an optional KTP file.
func (b *browser) postMultipart(path string, form url.Values, fileName string, file []byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf_token", b.token)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if fileName != "" {
		fw, err := mw.CreateFormFile("ktp_photo", fileName)
		if err != nil {
			b.t.Fatal(err)
		}
		_, _ = fw.Write(file)
	}
	_ = mw.Close()
	return b.postRaw(path, mw.FormDataContentType(), &buf, nil)
}

// postImage sends an image as the page's script does.
func (b *browser) postImage(path string, img []byte) page {
	b.t.Helper()
	return b.postRaw(path, "image/jpeg", bytes.NewReader(img), http.Header{"X-Csrf-Token": {b.token}})
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) sessionID() string { return b.cookie(portal.SessionCookieName(b.e.p)) }

func (b *browser) captcha() string {
	b.t.Helper()
	a := portal.CaptchaAnswer(b.e.p, b.sessionID())
	if a == "" {
		b.t.Fatal("no captcha for this session")
	}
	return a
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// msg is the escaped catalog text of key in lang, as a page shows it.
func (e *env) msg(lang, key string) string {
	e.t.Helper()
	s, ok := portal.Message(e.p, lang, key)
	if !ok {
		e.t.Fatalf("no message %q in %s", key, lang)
	}
	return html.EscapeString(s)
}

// applicant is what a person types into the wizard.
type applicant struct {
	nik, name, birth, username, password, email, phone string
}

func budi() applicant {
	return applicant{nik: "3171011208900001", name: "Budi Santoso", birth: "1990-08-12", username: "budi.santoso",
		password: "kuda-lari-di-pantai", email: "budi@example.co.id", phone: "0812-3456-7890"}
}

func siti() applicant {
	return applicant{nik: "3273015505920002", name: "Siti Rahayu", birth: "1992-05-15", username: "siti.rahayu",
		password: "hujan-turun-sore-ini", email: "siti@example.co.id", phone: "0813-1111-2222"}
}

func (a applicant) step1() url.Values {
	return url.Values{"nik": {a.nik}, "name": {a.name}, "birth_date": {a.birth}, "action": {"next"}}
}

func (a applicant) step2() url.Values {
	return url.Values{"username": {a.username}, "password": {a.password}, "password_confirm": {a.password},
		"email": {a.email}, "phone": {a.phone}, "action": {"next"}}
}

// toFoto runs steps 1 and 2 and lands on step 3.
func (b *browser) toFoto(a applicant) page {
	b.t.Helper()
	b.get("/register")
	if pg := b.post("/register/identitas", a.step1()); pg.path != "/register/akun" {
		b.t.Fatalf("step 1: landed on %s:\n%s", pg.path, pg.body)
	}
	pg := b.post("/register/akun", a.step2())
	if pg.path != "/register/foto" {
		b.t.Fatalf("step 2: landed on %s:\n%s", pg.path, pg.body)
	}
	return pg
}

// register runs the whole wizard and returns the last page.
func (b *browser) register(a applicant) page {
	b.t.Helper()
	b.toFoto(a)
	b.mustSave("/register/selfie", jpegImage(b.t, 480, 480))
	b.mustSave("/register/specimen", pngImage(b.t, 300, 100))
	return b.postMultipart("/register/foto", url.Values{"captcha": {b.captcha()}, "consent": {policy}, "action": {"save"}},
		"ktp.jpg", jpegImage(b.t, 640, 400))
}

func (b *browser) mustSave(path string, img []byte) {
	b.t.Helper()
	if pg := b.postImage(path, img); pg.status != http.StatusOK || !strings.Contains(pg.body, `"ok":true`) {
		b.t.Fatalf("%s: %d %s", path, pg.status, pg.body)
	}
}

func jpegImage(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, pattern(w, h), &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngImage(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, pattern(w, h)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pattern(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	return img
}

// before reports whether a occurs in s, and before b.
func before(s, a, b string) bool {
	i, j := strings.Index(s, a), strings.Index(s, b)
	return i >= 0 && j >= 0 && i < j
}
