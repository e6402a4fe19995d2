package portal

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/psre/appliance/enrollment"
)

type loginPage struct {
	Login string // what was typed, shown back to its author
	Error string // a message, already in the caller's language
}

func (p *Portal) loginGet(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "login", "login.title", loginPage{})
}

// loginPost checks the login (seed step 7: username or email and password)
// with Service.Authenticate. Failures get one generic message; throttling
// gets 429 with Retry-After. Success replaces the session with a new one
// under a new random id (no session fixation).
func (p *Portal) loginPost(w http.ResponseWriter, r *http.Request) {
	login := strings.TrimSpace(r.PostFormValue("login"))
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
		p.render(w, r, http.StatusTooManyRequests, "login", "login.title", loginPage{Login: login, Error: msg})
		return
	case errors.Is(err, enrollment.ErrLogin):
		p.render(w, r, http.StatusOK, "login", "login.title", loginPage{Login: login, Error: cat.T("login.failed")})
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
	seeOther(w, r, "/account")
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
