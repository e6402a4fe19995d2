package portal

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// issuedApp returns the caller's application if its certificate can be
// revoked by the subscriber; otherwise it goes back to the profile.
func (p *Portal) issuedApp(w http.ResponseWriter, r *http.Request) (store.Applicant, store.Application, bool) {
	a, app, ok := p.mine(w, r)
	if ok && (app.State != enrollment.StateIssued || app.Certificate == nil) {
		seeOther(w, r, "/account/profile")
		return a, app, false
	}
	return a, app, ok
}

// revocationCode sends the SMS code that confirms a revocation ("Cabut
// Sertifikat", first step).
func (p *Portal) revocationCode(w http.ResponseWriter, r *http.Request) {
	a, app, ok := p.issuedApp(w, r)
	if !ok {
		return
	}
	_, err := p.cfg.Service.SendRevocationCode(r.Context(), a.ID)
	if err == nil {
		p.setFlash(r, "flash.revocation_code_sent")
		seeOther(w, r, "/account/profile#revoke")
		return
	}
	if status, msg, ok := p.codeRefusal(w, r, err); ok {
		p.renderProfile(w, r, status, a, app, profilePage{RevokeError: msg})
		return
	}
	if !p.revokeStateMoved(w, r, err) {
		p.serverError(w, r, err)
	}
}

// revoke is the subscriber's revocation: password, SMS code and reason
// (key compromise, or no longer needed). A refusal shows the form again
// with the reason and changes nothing but the count of wrong codes.
func (p *Portal) revoke(w http.ResponseWriter, r *http.Request) {
	a, app, ok := p.issuedApp(w, r)
	if !ok {
		return
	}
	cat := p.cats[lang(r)]
	reason, _ := strconv.Atoi(r.PostFormValue("reason"))
	pg := profilePage{Reason: reason}
	code, codeOK := formCode(r)
	password := r.PostFormValue("password")
	switch {
	case reason != enrollment.ReasonKeyCompromise && reason != enrollment.ReasonCessationOfOperation:
		pg.RevokeError, pg.Reason = cat.T("revoke.reason_required"), 0
	case password == "":
		pg.RevokeError = cat.T("revoke.password_required")
	case !codeOK:
		pg.RevokeError = cat.T("otp.format")
	}
	if pg.RevokeError != "" {
		p.renderProfile(w, r, http.StatusBadRequest, a, app, pg)
		return
	}
	_, err := p.cfg.Service.RevokeOwn(r.Context(), a.ID, password, code, reason)
	if err == nil {
		p.log.InfoContext(r.Context(), "certificate revoked by its subscriber", "applicant", a.ID, "reason", reason)
		p.setFlash(r, "flash.certificate_revoked")
		seeOther(w, r, "/account/profile")
		return
	}
	if errors.Is(err, enrollment.ErrPassword) {
		pg.RevokeError = cat.T("revoke.password_wrong")
		p.renderProfile(w, r, http.StatusUnprocessableEntity, a, app, pg)
		return
	}
	if status, msg, ok := p.codeRefusal(w, r, err); ok {
		pg.RevokeError = msg
		p.renderProfile(w, r, status, a, app, pg)
		return
	}
	if !p.revokeStateMoved(w, r, err) {
		p.serverError(w, r, err)
	}
}

// revokeStateMoved: the certificate was revoked meanwhile (another tab).
func (p *Portal) revokeStateMoved(w http.ResponseWriter, r *http.Request, err error) bool {
	var se *enrollment.StateError
	if errors.As(err, &se) {
		seeOther(w, r, "/account/profile")
		return true
	}
	return false
}
