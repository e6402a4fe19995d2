package portal

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/otp"
	"github.com/psre/appliance/store"
)

type otpThrottled = otp.ThrottledError

// formCode returns the code field without the spaces people type between
// digit groups, and whether it is six ASCII digits. A malformed code is
// refused here and never reaches the service, so it costs no try.
func formCode(r *http.Request) (string, bool) {
	code := strings.Join(strings.Fields(r.PostFormValue("code")), "")
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return "", false
	}
	return code, true
}

// codeRefusal maps a refused one-time code (or a refused resend) to a
// status and a message in the caller's language; false for other errors.
func (p *Portal) codeRefusal(w http.ResponseWriter, r *http.Request, err error) (int, string, bool) {
	cat := p.cats[lang(r)]
	var ce *enrollment.CodeError
	var te *otpThrottled
	switch {
	case errors.As(err, &te):
		return http.StatusTooManyRequests, p.throttledText(w, r, te.Wait), true
	case !errors.As(err, &ce):
		return 0, "", false
	case errors.Is(ce, otp.ErrWrong):
		return http.StatusUnprocessableEntity, fmt.Sprintf(cat.T("otp.wrong"), ce.Remaining), true
	case errors.Is(ce, otp.ErrDead):
		return http.StatusUnprocessableEntity, cat.T("otp.dead"), true
	case errors.Is(ce, otp.ErrExpired):
		return http.StatusUnprocessableEntity, cat.T("otp.expired"), true
	}
	return http.StatusUnprocessableEntity, cat.T("otp.none"), true
}

// throttledText sets Retry-After and says when a new code may be asked
// for, in seconds up to a minute and in minutes above.
func (p *Portal) throttledText(w http.ResponseWriter, r *http.Request, wait time.Duration) string {
	cat := p.cats[lang(r)]
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	when := fmt.Sprintf(cat.T("otp.seconds"), secs)
	if secs > 60 {
		when = fmt.Sprintf(cat.T("otp.minutes"), int(math.Ceil(wait.Minutes())))
	}
	return fmt.Sprintf(cat.T("otp.throttled"), when)
}

// atStep returns the caller's application if it is in state want. An
// application further on goes to its page (a stale page, a double
// submission); one that is not being activated gets 409.
func (p *Portal) atStep(w http.ResponseWriter, r *http.Request, want string) (store.Applicant, store.Application, bool) {
	a, app, ok := p.mine(w, r)
	if !ok || app.State == want {
		return a, app, ok
	}
	p.notAtStep(w, r, app.State)
	return a, app, false
}

func (p *Portal) notAtStep(w http.ResponseWriter, r *http.Request, state string) {
	if path := activationPath(state); path != "" {
		seeOther(w, r, path)
		return
	}
	p.render(w, r, http.StatusConflict, "error", "activation.title", errorPage{Message: "activation.state", Account: true})
}

// stateMoved handles a *StateError of the service (the state changed
// between the page and the service call) and reports whether err was one.
func (p *Portal) stateMoved(w http.ResponseWriter, r *http.Request, err error) bool {
	var se *enrollment.StateError
	if !errors.As(err, &se) {
		return false
	}
	p.notAtStep(w, r, se.State)
	return true
}

// maskEmail shows the first character of the local part and the domain.
func maskEmail(s string) string {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" {
		return "***"
	}
	_, n := utf8.DecodeRuneInString(local)
	return local[:n] + "***@" + domain
}

// maskPhone shows an E.164 number as +62812****7890.
func maskPhone(s string) string {
	if len(s) < 11 {
		return "****"
	}
	return s[:6] + "****" + s[len(s)-4:]
}
