package portal

import (
	"errors"
	"net/http"

	"github.com/psre/appliance/enrollment"
)

type aktivasiPage struct {
	Expires string // when the link stops working
	Token   string // the link's token, for the POST of the Aktivasi button
}

// linkRefusal maps a refusal of the activation link to a status and a
// catalog key, or reports false for another error.
func linkRefusal(err error) (int, string, bool) {
	var se *enrollment.StateError
	switch {
	case errors.Is(err, enrollment.ErrActivationInvalid):
		return http.StatusBadRequest, "activation.invalid", true
	case errors.Is(err, enrollment.ErrActivationExpired):
		return http.StatusGone, "activation.expired", true
	case errors.Is(err, enrollment.ErrActivationUsed):
		return http.StatusGone, "activation.used", true
	case errors.As(err, &se):
		return http.StatusConflict, "activation.state", true
	}
	return 0, "", false
}

// refuseLink answers a refused link (or serverError for another error).
// Neither the page nor the log holds the token.
func (p *Portal) refuseLink(w http.ResponseWriter, r *http.Request, id string, err error) {
	status, key, ok := linkRefusal(err)
	if !ok {
		p.serverError(w, r, err)
		return
	}
	p.log.InfoContext(r.Context(), "activation link refused", "applicant", id, "reason", key)
	p.render(w, r, status, "error", "activation.title", errorPage{Message: key, Account: true})
}

// aktivasi is the target of the activation link in the approval email
// (seed step 16): /aktivasi?token=... It needs the owner's login; a caller
// who is not logged in goes to the login page and comes back here. The
// link is checked, not consumed: the page shows the "Aktivasi" button,
// whose POST consumes it. A token that is wrong, of another account,
// expired or used gets an error page and changes nothing. The token is
// never logged (logRequests logs the route pattern only).
func (p *Portal) aktivasi(w http.ResponseWriter, r *http.Request) {
	id, _ := p.loggedIn(r)
	if id == "" {
		seeOther(w, r, loginURL(r))
		return
	}
	token := r.URL.Query().Get("token")
	app, err := p.cfg.Service.CheckActivation(r.Context(), id, token)
	if err != nil {
		p.refuseLink(w, r, id, err)
		return
	}
	p.render(w, r, http.StatusOK, "aktivasi", "activation.title",
		aktivasiPage{Expires: p.formatTime(lang(r), app.Activation.Expires), Token: token})
}

// aktivasiStart is the "Aktivasi" button: it consumes the link and emails
// the first code (seed steps 16 and 17). Pressed again after it worked, it
// goes on to the step the activation is at.
func (p *Portal) aktivasiStart(w http.ResponseWriter, r *http.Request) {
	a, _, ok := p.mine(w, r)
	if !ok {
		return
	}
	token := r.PostFormValue("token")
	app, err := p.cfg.Service.CheckActivation(r.Context(), a.ID, token)
	if errors.Is(err, enrollment.ErrActivationUsed) && activationPath(app.State) != "" {
		seeOther(w, r, activationPath(app.State)) // a double submission
		return
	}
	if err == nil {
		_, err = p.cfg.Service.StartActivation(r.Context(), a.ID, token)
	}
	var te *otpThrottled
	switch {
	case errors.As(err, &te):
		p.throttledText(w, r, te.Wait)
		p.render(w, r, http.StatusTooManyRequests, "error", "activation.title", errorPage{Message: "otp.throttled_start", Account: true})
	case err != nil:
		p.refuseLink(w, r, a.ID, err)
	default:
		seeOther(w, r, "/aktivasi/email")
	}
}

// activationPath is the page of an application in state, for the pages
// of activation and for resuming it; "" for the states before.
func activationPath(state string) string {
	switch state {
	case enrollment.StateActivationEmailOTP:
		return "/aktivasi/email"
	case enrollment.StateActivationPhoneOTP:
		return "/aktivasi/telepon"
	case enrollment.StateIssued, enrollment.StateRevoked, enrollment.StateExpired:
		return "/account/profile"
	}
	return ""
}
