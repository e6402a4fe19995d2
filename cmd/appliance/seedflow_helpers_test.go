package main

// Helpers of TestSeedFlow (seedflow_test.go): the applicant's browser
// (Debian's chromium driven by chromedp, with a fake camera), an SMS
// gateway that hands each message to the test as it arrives, the subjects
// of the activation emails, and the tools nobody here wrote that check the
// outcome: openssl, pkcs11-tool and zlint.
//
// The service, the SMTP relay and the console clients are those of the
// review end-to-end tests (review_e2e_helpers_test.go and
// review_e2e_clients_test.go).
//
// Nothing here sleeps to synchronise: a browser step waits on the page
// (the navigation its click starts, an element becoming visible), a
// message on the relay's or the SMS sink's channel; the timeouts only bound
// a wait that fails.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zlintlint "github.com/zmap/zlint/v3/lint"

	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/notify"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

// sfChromium is Debian's chromium, installed by `make test-deps`.
const sfChromium = "/usr/bin/chromium"

// sfStepTimeout bounds one browser step (a page and what it waits for).
const sfStepTimeout = 30 * time.Second

// ---- the SMS gateway ----

// sfSMS is one SMS the gateway was asked to send.
type sfSMS struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// sfSMSSink is the SMS gateway of the test: it answers 202 and passes each
// message on arrived (the service's body template is
// {"to": ..., "text": ...}, see rvStart).
type sfSMSSink struct {
	srv     *httptest.Server
	arrived chan sfSMS
	bad     chan string // bodies that are not that JSON
}

func sfNewSMSSink(t *testing.T) *sfSMSSink {
	t.Helper()
	s := &sfSMSSink{arrived: make(chan sfSMS, 16), bad: make(chan string, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m sfSMS
		if err := json.Unmarshal(b, &m); err != nil || r.Method != http.MethodPost {
			s.bad <- fmt.Sprintf("%s %q", r.Method, b)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.arrived <- m
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

var sfSMSCodeRE = regexp.MustCompile(`kode OTP Anda ([0-9]{6})\b`)

// code waits for the next SMS, requires it to go to phone, and returns
// the one-time code it carries.
func (s *sfSMSSink) code(t *testing.T, phone string) string {
	t.Helper()
	select {
	case m := <-s.arrived:
		c := sfSMSCodeRE.FindStringSubmatch(m.Text)
		if m.To != phone || c == nil {
			t.Fatalf("SMS to %s: %q; want a code to %s", m.To, m.Text, phone)
		}
		return c[1]
	case b := <-s.bad:
		t.Fatalf("the SMS gateway got a body it does not understand: %s", b)
	case <-rvWaitBound():
		t.Fatalf("no SMS within %v", rvTimeout)
	}
	return ""
}

// none requires that no SMS is waiting.
func (s *sfSMSSink) none(t *testing.T, when string) {
	t.Helper()
	select {
	case m := <-s.arrived:
		t.Errorf("%s: unexpected SMS to %s: %q", when, m.To, m.Text)
	default:
	}
}

// ---- emails ----

// sfSubject is the Indonesian subject of an email kind, rendered by the
// product's templates (rvSubject covers the kinds of the review; the
// activation's kinds need their own data).
func sfSubject(t *testing.T, kind string) string {
	t.Helper()
	common := notify.Common{Name: "X", PortalURL: "http://x.test"}
	var data any
	switch kind {
	case notify.KindOTPEmail:
		data = &notify.OTPData{Common: common, Code: "000000", ValidMinutes: 5}
	case notify.KindCertificateIssued:
		data = &notify.CertificateIssuedData{Common: common, Serial: "01", NotAfter: time.Now(), Fingerprint: "00"}
	case notify.KindCertificateRevoked:
		data = &notify.CertificateRevokedData{Common: common, Serial: "01", Reason: "x"}
	default:
		return rvSubject(t, kind)
	}
	tpl, err := notify.NewTemplates(productName)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tpl.Email(kind, "id", "x@example.com", data)
	if err != nil {
		t.Fatalf("render %s: %v", kind, err)
	}
	return m.Subject
}

// sfExpectMail waits for the next email at the relay and requires it to be
// the email of kind to to, sent over TLS after AUTH.
func sfExpectMail(t *testing.T, relay *rvRelay, to, kind string) rvMail {
	t.Helper()
	m := relay.next(t)
	if want := sfSubject(t, kind); m.Subject != want || m.To != to {
		t.Fatalf("next email: %q to %s, want %s (%q) to %s\n%s", m.Subject, m.To, kind, want, to, m.Text)
	}
	if !m.OverTLS || !m.Authenticated {
		t.Errorf("%s email: TLS %v, AUTH %v", kind, m.OverTLS, m.Authenticated)
	}
	m.Kind = kind
	return m
}

var sfMailCodeRE = regexp.MustCompile(`Kode verifikasi \(OTP\) Anda adalah:\s+([0-9]{6})\s`)

// ---- the browser ----

// sfBrowser is one applicant's browser: a chromium of its own (fresh
// profile) with a fake camera that the page may use without asking.
type sfBrowser struct {
	t   *testing.T
	tab context.Context
}

func sfNewBrowser(ctx context.Context, t *testing.T) *sfBrowser {
	t.Helper()
	if _, err := os.Stat(sfChromium); err != nil {
		t.Fatalf("%s is needed for the seed flow: run `make test-deps` (it installs Debian's chromium; or apt-get install chromium): %v", sfChromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(sfChromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	tab, tcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { tcancel(); acancel() })
	// The first action starts chromium: it runs on tab itself, since the
	// browser lives as long as the context of its first action.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start %s: %v", sfChromium, err)
	}
	return &sfBrowser{t: t, tab: tab}
}

// fail takes a screenshot of the page (kept with go test -artifacts) and
// ends the test.
func (b *sfBrowser) fail(format string, args ...any) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.tab, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
		path := filepath.Join(b.t.ArtifactDir(), "seedflow.png")
		if err := os.WriteFile(path, png, 0o600); err == nil {
			b.t.Logf("screenshot of the failure: %s (kept with go test -artifacts)", path)
		}
	}
	if u, err := chromedp.Run(sctx, chromedp.Location()); err == nil {
		b.t.Logf("the browser is at %s", u)
	}
	b.t.Fatalf(format, args...)
}

// do runs a step's actions within sfStepTimeout.
func (b *sfBrowser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, sfStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// submit runs actions that end in a click starting a navigation (a form
// submission, a link) and waits for the page it lands on: the answer must
// be 200 at path (the redirects of a POST followed), then marker must be
// visible.
func (b *sfBrowser) submit(what, path, marker string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.land(what, path, marker, func(ctx context.Context) (*network.Response, error) {
		return chromedp.RunResponse(ctx, actions...)
	})
}

// open navigates to u as typed in the address bar (or a link followed
// from an email) and waits as submit does.
func (b *sfBrowser) open(what, u, path, marker string) {
	b.t.Helper()
	b.land(what, path, marker, func(ctx context.Context) (*network.Response, error) {
		return chromedp.Run(ctx, chromedp.NavigateResponse(u))
	})
}

func (b *sfBrowser) land(what, path, marker string, navigate func(context.Context) (*network.Response, error)) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, sfStepTimeout)
	defer cancel()
	resp, err := navigate(ctx)
	if err != nil {
		b.fail("%s: %v", what, err)
	}
	u, err := url.Parse(resp.URL)
	if err != nil || resp.Status != http.StatusOK || u.Path != path {
		b.fail("%s: landed on %d %s, want 200 %s", what, resp.Status, resp.URL, path)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(marker))); err != nil {
		b.fail("%s: %s not shown at %s: %v", what, marker, resp.URL, err)
	}
}

// text is the text of the element sel on the current page.
func (b *sfBrowser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, sfStepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
	if err != nil {
		b.fail("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression on the current page.
func sfEval[T any](b *sfBrowser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, sfStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// state is the application state the account page shows.
func (b *sfBrowser) state() string {
	b.t.Helper()
	return sfEval[string](b, `document.getElementById('account-state').dataset.state`)
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// sfWaitSaved waits for the DOM signal post.js sets when the server kept
// an image: the status line says "Tersimpan".
func sfWaitSaved(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(function(s){ if (s.dataset.state === 'error') throw new Error(s.textContent);
		  return s.dataset.state === 'saved' && s.textContent === 'Tersimpan'; })(document.getElementById(%q))`, id),
		chromedp.WithPollingTimeout(sfStepTimeout))
}

// sfDrawSignature presses the mouse on the signature pad, moves it along
// a curve and releases it: the pad sees pointerdown, pointermove and
// pointerup, as with a person's hand.
func sfDrawSignature() chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.ScrollIntoView(css("#signature-pad")),
		chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			rect, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ X, Y, W, H float64 }](
				`(function(r){ return {X: r.left, Y: r.top, W: r.width, H: r.height}; })(document.getElementById('signature-pad').getBoundingClientRect())`))
			if err != nil {
				return err
			}
			if rect.W < 50 || rect.H < 20 {
				return fmt.Errorf("signature pad is %vx%v", rect.W, rect.H)
			}
			send := func(typ input.DispatchMouseEventType, fx, fy float64, buttons int64) error {
				_, err := cdp.Call(ctx, target, input.DispatchMouseEvent, input.DispatchMouseEventParams{
					Type: typ, X: rect.X + fx*rect.W, Y: rect.Y + fy*rect.H,
					Button: input.MouseButtonLeft, Buttons: buttons, ClickCount: 1,
				})
				return err
			}
			if err := send(chromedp.MousePressed, 0.1, 0.6, 1); err != nil {
				return err
			}
			for i := 1; i <= 20; i++ {
				fx := 0.1 + 0.8*float64(i)/20
				fy := 0.5 + 0.3*float64((i%4)-2)/2
				if err := send(chromedp.MouseMoved, fx, fy, 1); err != nil {
					return err
				}
			}
			return send(chromedp.MouseReleased, 0.9, 0.5, 0)
		}),
	)
}

// httpClient is a Go client that carries the browser's cookies for the
// portal (the session cookie is HttpOnly: read through DevTools): it
// fetches what the page offers as downloads.
func (b *sfBrowser) httpClient(portal string) *http.Client {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, sfStepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{portal + "/"}})
	if err != nil {
		b.fail("read the browser's cookies: %v", err)
	}
	u, err := url.Parse(portal + "/")
	if err != nil {
		b.t.Fatal(err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	var cookies []*http.Cookie
	for _, c := range res.Cookies {
		cookies = append(cookies, &http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path})
	}
	if len(cookies) == 0 {
		b.fail("the browser holds no cookie for %s", portal)
	}
	jar.SetCookies(u, cookies)
	return &http.Client{Jar: jar, Timeout: rvTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// sfGet fetches u with c and requires 200.
func sfGet(t *testing.T, c *http.Client, u string) (http.Header, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%s", u, resp.Status, err, rvSnippet(string(b)))
	}
	return resp.Header, b
}

// ---- tools nobody here wrote ----

// sfRun runs a command (bounded by rvTimeout) with extra environment
// variables and returns its output and exit code.
func sfRun(t *testing.T, env []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rvTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		code = exitErr.ExitCode()
	default:
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String(), e.String(), code
}

// sfOCSP asks the responder at responder about the certificate in
// certPath with `openssl ocsp` (nonce on, the response verified against
// the root) and returns stdout, after requiring "Response verify OK".
func sfOCSP(t *testing.T, dir, certPath, responder string) string {
	t.Helper()
	pki := filepath.Join(dir, "pki")
	out, errOut, code := sfRun(t, nil, "openssl", "ocsp", "-issuer", filepath.Join(pki, "issuing.pem"), "-cert", certPath,
		"-url", responder, "-CAfile", filepath.Join(pki, "root.pem"))
	if code != 0 || !strings.Contains(out+errOut, "Response verify OK") || strings.Contains(out+errOut, "WARNING: no nonce in response") {
		t.Fatalf("openssl ocsp: exit %d, want 0 with Response verify OK and a nonce:\n%s%s", code, out, errOut)
	}
	return out
}

// sfKey is one object of `pkcs11-tool --list-objects`.
type sfKey struct {
	Header, Label, ID, Access string
}

// sfUsersKeys lists the objects of type typ (privkey, pubkey) on the users
// token with pkcs11-tool, logged in with the PIN of DIR/pins/users (passed
// through the environment, never argv).
func sfUsersKeys(t *testing.T, dir, typ string) []sfKey {
	t.Helper()
	module, err := softhsmtestdata.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	pin, err := os.ReadFile(filepath.Join(dir, "pins", "users"))
	if err != nil {
		t.Fatal(err)
	}
	const pinEnv = "SEEDFLOW_USERS_PIN"
	out, errOut, code := sfRun(t, []string{"SOFTHSM2_CONF=" + filepath.Join(dir, "softhsm2.conf"), pinEnv + "=" + strings.TrimSpace(string(pin))},
		"pkcs11-tool", "--module", module, "--token-label", "users", "--login", "--pin", "env:"+pinEnv, "--list-objects", "--type", typ)
	if code != 0 {
		t.Fatalf("pkcs11-tool --list-objects --type %s: exit %d\n%s%s", typ, code, out, errOut)
	}
	var keys []sfKey
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			if strings.Contains(line, " Object") {
				keys = append(keys, sfKey{Header: line})
			}
			continue
		}
		if len(keys) == 0 {
			continue
		}
		k := &keys[len(keys)-1]
		key, val, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch val = strings.TrimSpace(val); key {
		case "label":
			k.Label = val
		case "ID":
			k.ID = val
		case "Access":
			k.Access = val
		}
	}
	return keys
}

// sfUsersPublicKey reads the public key object labelled label from the
// users token (DER SubjectPublicKeyInfo, as pkcs11-tool writes it).
func sfUsersPublicKey(t *testing.T, dir, label string) []byte {
	t.Helper()
	module, err := softhsmtestdata.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pub.der")
	out, errOut, code := sfRun(t, []string{"SOFTHSM2_CONF=" + filepath.Join(dir, "softhsm2.conf")},
		"pkcs11-tool", "--module", module, "--token-label", "users", "--read-object", "--type", "pubkey", "--label", label, "--output-file", path)
	if code != 0 {
		t.Fatalf("pkcs11-tool --read-object --type pubkey --label %s: exit %d\n%s%s", label, code, out, errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sfZlint lints der with the project's linter and with plain zlint (every
// registered lint but those lint.Skipped names): no error, warning or
// fatal result.
func sfZlint(t *testing.T, der []byte) {
	t.Helper()
	linter, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := linter.Certificate(der); err != nil {
		t.Errorf("project linter: %v", err)
	}
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("zcrypto cannot parse the certificate: %v", err)
	}
	rs := zlint.LintCertificate(c)
	if len(rs.Results) == 0 {
		t.Fatal("zlint ran no lints")
	}
	var bad []string
	for name, res := range rs.Results {
		if _, skipped := lint.Skipped[name]; skipped {
			continue
		}
		switch res.Status {
		case zlintlint.Warn, zlintlint.Error, zlintlint.Fatal:
			bad = append(bad, fmt.Sprintf("%s (%s): %s", name, res.Status, res.Details))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("zlint findings:\n  %s", strings.Join(bad, "\n  "))
	}
}
