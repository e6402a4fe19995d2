package portal

import (
	"errors"
	"net/http"

	"github.com/psre/appliance/enrollment"
)

type aktivasiPage struct {
	Expires string // when the link stops working
}

// aktivasi is the target of the activation link in the approval email
// (seed step 16): /aktivasi?token=... It needs the owner's login; a caller
// who is not logged in goes to the login page and comes back here. The
// link is checked, not consumed: the email and phone OTP steps that
// consume it are not built yet, and the page says so. A token that is
// wrong, of another account, expired or used gets an error page and
// changes nothing. The token is never logged (logRequests logs the route
// pattern only).
func (p *Portal) aktivasi(w http.ResponseWriter, r *http.Request) {
	id, _ := p.loggedIn(r)
	if id == "" {
		seeOther(w, r, loginURL(r))
		return
	}
	app, err := p.cfg.Service.CheckActivation(r.Context(), id, r.URL.Query().Get("token"))
	var se *enrollment.StateError
	status, key := 0, ""
	switch {
	case errors.Is(err, enrollment.ErrActivationInvalid):
		status, key = http.StatusBadRequest, "activation.invalid"
	case errors.Is(err, enrollment.ErrActivationExpired):
		status, key = http.StatusGone, "activation.expired"
	case errors.Is(err, enrollment.ErrActivationUsed):
		status, key = http.StatusGone, "activation.used"
	case errors.As(err, &se):
		status, key = http.StatusConflict, "activation.state"
	case err != nil:
		p.serverError(w, r, err)
		return
	}
	if key != "" {
		p.log.InfoContext(r.Context(), "activation link refused", "applicant", id, "reason", key)
		p.render(w, r, status, "error", "activation.title", errorPage{Message: key, Account: true})
		return
	}
	p.render(w, r, http.StatusOK, "aktivasi", "activation.title", aktivasiPage{Expires: p.formatTime(lang(r), app.Activation.Expires)})
}
