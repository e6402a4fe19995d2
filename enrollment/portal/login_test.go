package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func registered(t *testing.T) (*env, applicant) {
	t.Helper()
	e := newEnv(t)
	a := budi()
	if pg := e.browser().register(a); pg.path != "/register/selesai" {
		t.Fatalf("registration: %s", pg.path)
	}
	return e, a
}

// TestLogin: one generic error, a new session id at login, /account only
// when logged in, logout ends the session.
func TestLogin(t *testing.T) {
	e, a := registered(t)
	b := e.browser()
	if pg := b.get("/account"); pg.path != "/login" {
		t.Fatalf("/account logged out landed on %s", pg.path)
	}
	var bodies []string
	for _, c := range [][2]string{{a.username, "wrong-password-123"}, {"nobody.here", a.password}, {"x@example.co.id", a.password}} {
		pg := b.post("/login", url.Values{"login": {c[0]}, "password": {c[1]}})
		if pg.path != "/login" || !strings.Contains(pg.body, e.msg("id", "login.failed")) {
			t.Fatalf("login %q: %s", c[0], pg.path)
		}
		if strings.Contains(pg.body, c[1]) {
			t.Error("the password is written back")
		}
		bodies = append(bodies, strings.ReplaceAll(pg.body, c[0], ""))
	}
	// Same page for every failure, apart from the login typed and the CSRF token.
	tokens := regexp.MustCompile(`(content|value)="[^"]{40,}"`)
	strip := func(s string) string { return tokens.ReplaceAllString(s, "") }
	if strip(bodies[0]) != strip(bodies[1]) {
		t.Errorf("unknown user and wrong password answer differently:\n%s\n%s", strip(bodies[0]), strip(bodies[1]))
	}

	b.get("/register/identitas")
	b.post("/register/identitas", url.Values{"name": {"Someone"}}) // a session before login
	before := b.sessionID()
	if before == "" {
		t.Fatal("no session cookie before login")
	}
	pg := b.post("/login", url.Values{"login": {strings.ToUpper(a.username)}, "password": {a.password}})
	if pg.path != "/account" || !strings.Contains(pg.body, a.name) {
		t.Fatalf("login: %s", pg.path)
	}
	after := b.sessionID()
	if after == "" || after == before {
		t.Fatalf("the session id did not change at login: %q -> %q", before, after)
	}
	// The old id is dead: a client presenting it is not logged in.
	old := e.browser()
	u, _ := url.Parse(e.srv.URL)
	old.c.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: before, Path: "/"}})
	if pg := old.get("/account"); pg.path != "/login" {
		t.Errorf("the pre-login session id reaches /account")
	}
	for _, c := range []string{"session", "csrf"} {
		if !setCookieHas(t, e, b, c, "HttpOnly", "SameSite=Lax") {
			t.Errorf("cookie %s lacks HttpOnly or SameSite=Lax", c)
		}
	}
	pg = b.post("/logout", nil)
	if pg.path != "/" {
		t.Fatalf("logout landed on %s", pg.path)
	}
	if pg := b.get("/account"); pg.path != "/login" {
		t.Error("still logged in after logout")
	}
	old.c.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: after, Path: "/"}})
	if pg := old.get("/account"); pg.path != "/login" {
		t.Error("the session id still works after logout")
	}
}

// setCookieHas logs in a fresh client and reads the raw Set-Cookie of name.
func setCookieHas(t *testing.T, e *env, b *browser, name string, attrs ...string) bool {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var resp *http.Response
	var err error
	if name == "csrf" {
		resp, err = c.Get(e.srv.URL + "/login")
	} else {
		// Sessions are made by the first valid POST of the wizard.
		nb := e.browser()
		nb.get("/register/identitas")
		c.Jar = nb.c.Jar
		resp, err = c.PostForm(e.srv.URL+"/register/identitas", url.Values{"csrf_token": {nb.token}, "name": {"Someone"}})
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, name+"=") {
			for _, a := range attrs {
				if !strings.Contains(sc, a) {
					return false
				}
			}
			return true
		}
	}
	return false
}

// TestLoginThrottled: repeated failures give 429 with Retry-After and a
// message in minutes.
func TestLoginThrottled(t *testing.T) {
	e, a := registered(t)
	for _, lang := range []string{"id", "en"} {
		b := e.browser()
		b.get("/login?lang=" + lang)
		var pg page
		for i := 0; i < 12 && pg.status != http.StatusTooManyRequests; i++ {
			pg = b.post("/login", url.Values{"login": {a.username}, "password": {"wrong-password-123"}})
		}
		if pg.status != http.StatusTooManyRequests {
			t.Fatalf("%s: no 429 after 12 failures", lang)
		}
		secs, err := strconv.Atoi(pg.header.Get("Retry-After"))
		if err != nil || secs < 1 {
			t.Errorf("%s: Retry-After %q", lang, pg.header.Get("Retry-After"))
		}
		if !strings.Contains(pg.body, e.msg(lang, "login.throttled_one")) && !strings.Contains(pg.body, e.msg(lang, "login.throttled")[:20]) {
			t.Errorf("%s: no throttling message:\n%s", lang, pg.body)
		}
		// Even the right password waits.
		if pg := b.post("/login", url.Values{"login": {a.username}, "password": {a.password}}); pg.status != http.StatusTooManyRequests {
			t.Errorf("%s: the right password during the wait: %d", lang, pg.status)
		}
	}
}
