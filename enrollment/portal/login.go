package portal

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/psre/appliance/enrollment"
)

type loginPage struct {
	Login string // what was typed, shown back to its author
	Error string // a message, already in the caller's language
	Next  string // where to go after the login (a local path), or ""
}

func (p *Portal) loginGet(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "login", "login.title", loginPage{Next: safeNext(r.URL.Query().Get("next"))})
}

// safeNext returns next if it is a path on this site ("/..." but not
// "//..." nor anything with a backslash or a control character, which
// browsers may read as another host), else "".
func safeNext(next string) string {
	if next == "" || len(next) > 1024 || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }) {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || strings.HasPrefix(u.Path, "//") {
		return ""
	}
	return next
}

// loginURL is the login page that comes back to the page of r after the
// login (GET pages only).
func loginURL(r *http.Request) string {
	if r.Method != http.MethodGet || r.URL.Path == "/account" {
		return "/login"
	}
	return "/login?" + url.Values{"next": {r.URL.RequestURI()}}.Encode()
}

// loginPost checks the login (seed step 7: username or email and password)
// with Service.Authenticate. Failures get one generic message; throttling
// gets 429 with Retry-After. Success replaces the session with a new one
// under a new random id (no session fixation) and goes to the local page
// named by the form's "next" (see safeNext), else to /account.
func (p *Portal) loginPost(w http.ResponseWriter, r *http.Request) {
	login := strings.TrimSpace(r.PostFormValue("login"))
	next := safeNext(r.PostFormValue("next"))
	a, err := p.cfg.Service.Authenticate(r.Context(), login, r.PostFormValue("password"), clientAddr(r))
	cat := p.cats[lang(r)]
	var te *enrollment.ThrottledError
	switch {
	case errors.As(err, &te):
		secs := int(math.Ceil(te.Wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		msg := cat.T("login.throttled_one")
		if mins := int(math.Ceil(te.Wait.Minutes())); mins > 1 {
			msg = fmt.Sprintf(cat.T("login.throttled"), mins)
		}
		p.render(w, r, http.StatusTooManyRequests, "login", "login.title", loginPage{Login: login, Error: msg, Next: next})
		return
	case errors.Is(err, enrollment.ErrLogin):
		p.render(w, r, http.StatusOK, "login", "login.title", loginPage{Login: login, Error: cat.T("login.failed"), Next: next})
		return
	case err != nil:
		p.serverError(w, r, err)
		return
	}
	if old := p.session(r); old != nil {
		p.sessions.remove(old)
	}
	sess, err := p.newSession(w)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	sess.mu.Lock()
	sess.applicantID, sess.username = a.ID, a.Username
	sess.mu.Unlock()
	p.sessions.markLoggedIn(sess)
	p.log.InfoContext(r.Context(), "applicant logged in", "applicant", a.ID)
	if next == "" {
		next = "/account"
	}
	seeOther(w, r, next)
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	if sess := p.session(r); sess != nil {
		p.sessions.remove(sess)
	}
	p.setSessionCookie(w, "", -1)
	seeOther(w, r, "/")
}

// clientAddr is the peer's IP for login throttling. Behind a reverse proxy
// it is the proxy's: see the package doc.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loggedIn returns the applicant id and username of the caller's session.
func (p *Portal) loggedIn(r *http.Request) (id, username string) {
	sess := p.session(r)
	if sess == nil {
		return "", ""
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.applicantID, sess.username
}
