package portal_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/store"
)

// approve takes applicant id to activation_pending.
func (e *env) approve(id string, s staff) {
	e.t.Helper()
	e.toReview(id, s)
	e.must(e.svc.Approve(e.t.Context(), s.ra, id))
}

// setActivation changes applicant id's activation record in the store
// (the time passing, or the OTP steps of the next issue using the link).
func (e *env) setActivation(id string, change func(*store.Activation)) {
	e.t.Helper()
	err := e.db.Update(func(tx *bolt.Tx) error {
		app, err := store.GetApplication(tx, id)
		if err != nil {
			return err
		}
		change(app.Activation)
		return store.PutApplication(tx, app)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

var (
	startButton   = regexp.MustCompile(`<button type="submit"[^>]*id="activation-start"[^>]*>`)
	disabledStart = regexp.MustCompile(`<button[^>]*id="activation-start"[^>]*\bdisabled\b`)
)

// TestActivationLink: the link of the approval email works for its owner
// (after a login if need be) and, until "Aktivasi" is pressed, changes
// nothing; it is refused for
// another applicant, when wrong, expired or used; the token is not logged.
func TestActivationLink(t *testing.T) {
	e := newEnv(t)
	s := e.staff()
	a := budi()
	b, id := e.signedIn(a)
	bo, other := e.signedIn(siti())
	e.approve(id, s)
	link := e.activationLink("budi@example.co.id")
	prefix := e.srv.URL + "/aktivasi?token="
	token := strings.TrimPrefix(link, prefix)
	if !strings.HasPrefix(link, prefix) || len(token) < 40 {
		t.Fatalf("activation link %q", link)
	}
	if pg := b.get("/account"); text(pg.body, "account-next") != mustText(t, e, "id", "next.activation_pending") {
		t.Errorf("account page in activation_pending: %q", text(pg.body, "account-next"))
	}

	before := e.snapshot(id)
	for range 2 { // checking does not use the link up
		pg := b.getURL(link)
		strict(t, pg)
		if pg.status != http.StatusOK || pg.path != "/aktivasi" || text(pg.body, "activation-valid") != mustText(t, e, "id", "activation.valid") ||
			!startButton.MatchString(pg.body) || disabledStart.MatchString(pg.body) || !strings.Contains(pg.body, `<form method="post" action="/aktivasi"`) ||
			!strings.Contains(pg.body, `name="token" value="`+token+`"`) {
			t.Fatalf("owner opens the link: %d %s\n%s", pg.status, pg.path, pg.body)
		}
	}
	if e.snapshot(id) != before || e.app(id).Activation.Used {
		t.Fatal("opening the link changed the application")
	}

	// Not logged in: to the login page, and back to the link after it.
	nb := e.browser()
	pg := nb.getURL(link)
	next := html.UnescapeString(regexpFind(pg.body, `name="next" value="([^"]*)"`))
	if pg.path != "/login" || next != "/aktivasi?token="+token {
		t.Fatalf("logged out: landed on %s with next %q", pg.path, next)
	}
	pg = nb.post("/login", url.Values{"login": {a.username}, "password": {"wrong-password-123"}, "next": {next}})
	if !strings.Contains(pg.body, `name="next" value="`) {
		t.Error("a failed login forgets where to go")
	}
	pg = nb.post("/login", url.Values{"login": {a.username}, "password": {a.password}, "next": {next}})
	if pg.status != http.StatusOK || pg.path != "/aktivasi" || !strings.Contains(pg.body, `id="activation-valid"`) {
		t.Fatalf("after the login: %d %s", pg.status, pg.path)
	}

	// Another applicant, logged in: not while their application is elsewhere...
	if pg := bo.getURL(link); pg.status != http.StatusConflict || text(pg.body, "error-message") != mustText(t, e, "id", "activation.state") {
		t.Errorf("another applicant in registered: %d %q", pg.status, text(pg.body, "error-message"))
	}
	// ...nor when they await activation too.
	e.approve(other, s)
	otherLink := e.activationLink("siti@example.co.id")
	refusals := []struct {
		name   string
		who    *browser
		link   string
		change func(*store.Activation)
		status int
		key    string
	}{
		{"another account's link", bo, link, nil, http.StatusBadRequest, "activation.invalid"},
		{"my link to another account", b, otherLink, nil, http.StatusBadRequest, "activation.invalid"},
		{"wrong token", b, prefix + token[:len(token)-2], nil, http.StatusBadRequest, "activation.invalid"},
		{"no token", b, e.srv.URL + "/aktivasi", nil, http.StatusBadRequest, "activation.invalid"},
		{"expired", b, link, func(act *store.Activation) { act.Expires = time.Now().Add(-time.Minute) }, http.StatusGone, "activation.expired"},
		{"used", b, link, func(act *store.Activation) { act.Used = true }, http.StatusGone, "activation.used"},
	}
	for _, lang := range []string{"id", "en"} {
		for _, r := range refusals {
			saved := *e.app(id).Activation
			if r.change != nil {
				e.setActivation(id, r.change)
			}
			r.who.get("/?lang=" + lang)
			before := e.snapshot(id) + e.snapshot(other)
			pg := r.who.getURL(r.link)
			if pg.status != r.status || text(pg.body, "error-message") != mustText(t, e, lang, r.key) ||
				!strings.Contains(pg.body, `<html lang="`+lang+`">`) || strings.Contains(pg.body, `id="activation-valid"`) {
				t.Errorf("%s, %s: %d %q; want %d with %s", lang, r.name, pg.status, text(pg.body, "error-message"), r.status, r.key)
			}
			if e.snapshot(id)+e.snapshot(other) != before {
				t.Errorf("%s, %s: a refused link changed something", lang, r.name)
			}
			e.setActivation(id, func(act *store.Activation) { *act = saved })
		}
	}
	if pg := bo.getURL(otherLink); pg.status != http.StatusOK {
		t.Errorf("the other applicant's own link: %d", pg.status)
	}
	logs := e.logs.String()
	if strings.Contains(logs, token) || strings.Contains(logs, strings.TrimPrefix(otherLink, prefix)) {
		t.Error("an activation token reached the log")
	}
	if !strings.Contains(logs, "GET /aktivasi") {
		t.Error("the route of the activation page was not logged")
	}
}
