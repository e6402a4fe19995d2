package portal

import (
	"errors"
	"net/http"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// codePage is the email OTP page (seed step 17) and the phone OTP page
// with the consents (steps 18 and 19).
type codePage struct {
	Target     string // where the code went, masked
	Flash      string // catalog key
	Error      string // about the code or the resend, in the caller's language
	ConsentErr string // catalog key
	Consents   consentTexts
	Checked    [2]bool // the consents ticked when the form comes back
	Issuing    bool    // the code was accepted; submitting again finishes the issuance
	Progress   []stepView
}

// activationProgress shows the steps of seed 17 to 20, current of them.
func activationProgress(current int) []stepView {
	labels := []string{"otp.step_email", "otp.step_phone", "otp.step_issue"}
	s := make([]stepView, len(labels))
	for i, l := range labels {
		s[i] = stepView{N: i + 1, Label: l, Current: i+1 == current, Done: i+1 < current}
	}
	return s
}

func (p *Portal) renderCode(w http.ResponseWriter, r *http.Request, status int, a store.Applicant, app store.Application, pg codePage) {
	if app.State == enrollment.StateActivationEmailOTP {
		pg.Target, pg.Progress = maskEmail(a.Email), activationProgress(1)
		p.render(w, r, status, "aktivasi_email", "otp.email_title", pg)
		return
	}
	pg.Target, pg.Progress = maskPhone(a.Phone), activationProgress(2)
	pg.Consents = p.consents[lang(r)]
	pg.Issuing = app.Issuance != nil
	p.render(w, r, status, "aktivasi_telepon", "otp.phone_title", pg)
}

func (p *Portal) emailGet(w http.ResponseWriter, r *http.Request) {
	if a, app, ok := p.atStep(w, r, enrollment.StateActivationEmailOTP); ok {
		p.renderCode(w, r, http.StatusOK, a, app, codePage{Flash: p.takeFlash(r)})
	}
}

// emailPost checks the emailed code; the SMS code goes out (step 18).
func (p *Portal) emailPost(w http.ResponseWriter, r *http.Request) {
	a, app, ok := p.atStep(w, r, enrollment.StateActivationEmailOTP)
	if !ok {
		return
	}
	code, ok := formCode(r)
	if !ok {
		p.renderCode(w, r, http.StatusUnprocessableEntity, a, app, codePage{Error: p.cats[lang(r)].T("otp.format")})
		return
	}
	_, err := p.cfg.Service.VerifyEmailCode(r.Context(), a.ID, code)
	if err == nil {
		p.setFlash(r, "flash.email_verified")
		seeOther(w, r, "/aktivasi/telepon")
		return
	}
	if status, msg, ok := p.codeRefusal(w, r, err); ok {
		p.renderCode(w, r, status, a, app, codePage{Error: msg})
		return
	}
	if !p.stateMoved(w, r, err) {
		p.serverError(w, r, err)
	}
}

func (p *Portal) teleponGet(w http.ResponseWriter, r *http.Request) {
	if a, app, ok := p.atStep(w, r, enrollment.StateActivationPhoneOTP); ok {
		p.renderCode(w, r, http.StatusOK, a, app, codePage{Flash: p.takeFlash(r)})
	}
}

// teleponPost is "Proses Kode OTP" (seed steps 19 and 20): both consents
// to the texts shown, which must be the texts in force, and the SMS code.
// A missing consent or a malformed code is refused here and consumes
// nothing. Once the code was accepted, submitting again finishes the same
// issuance.
func (p *Portal) teleponPost(w http.ResponseWriter, r *http.Request) {
	a, app, ok := p.atStep(w, r, enrollment.StateActivationPhoneOTP)
	if !ok {
		return
	}
	inForce, _ := p.cfg.Service.ConsentVersions()
	pg := codePage{Checked: [2]bool{r.PostFormValue("consent_issuance") == "on", r.PostFormValue("consent_ownership") == "on"}}
	given := enrollment.Consents{Issuance: r.PostFormValue("issuance_version"), Ownership: r.PostFormValue("ownership_version")}
	code, codeOK := formCode(r)
	if app.Issuance == nil {
		status := http.StatusBadRequest
		switch {
		case !pg.Checked[0] || !pg.Checked[1]:
			pg.ConsentErr = "activation.consent_required"
		case given != inForce:
			pg.ConsentErr, pg.Checked = "activation.consent_changed", [2]bool{}
		case !codeOK:
			status, pg.Error = http.StatusUnprocessableEntity, p.cats[lang(r)].T("otp.format")
		}
		if pg.ConsentErr != "" || pg.Error != "" {
			p.renderCode(w, r, status, a, app, pg)
			return
		}
	}
	_, err := p.cfg.Service.CompleteActivation(r.Context(), a.ID, code, given)
	if err == nil {
		p.setFlash(r, "flash.certificate_issued")
		seeOther(w, r, "/account/profile")
		return
	}
	if status, msg, ok := p.codeRefusal(w, r, err); ok {
		pg.Error = msg
		p.renderCode(w, r, status, a, app, pg)
		return
	}
	if errors.Is(err, enrollment.ErrConsentRequired) { // the texts changed meanwhile
		pg.ConsentErr, pg.Checked = "activation.consent_changed", [2]bool{}
		p.renderCode(w, r, http.StatusBadRequest, a, app, pg)
		return
	}
	if p.stateMoved(w, r, err) {
		return
	}
	// The issuance failed after the code was accepted (the HSM or the CA):
	// the page says so, and submitting again resumes it.
	p.log.ErrorContext(r.Context(), "certificate issuance failed", "applicant", a.ID, "err", err)
	if now, rerr := p.cfg.DB.ApplicationOf(a.ID); rerr == nil && now.State == enrollment.StateActivationPhoneOTP && now.Issuance != nil {
		pg.Error = p.cats[lang(r)].T("activation.issue_failed")
		p.renderCode(w, r, http.StatusServiceUnavailable, a, now, pg)
		return
	}
	p.errorPage(w, r, http.StatusInternalServerError, "error.generic")
}

// resend is "Kirim ulang kode" on the page of state: a new code by email
// or SMS, within the resend limits.
func (p *Portal) resend(state string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, app, ok := p.atStep(w, r, state)
		if !ok {
			return
		}
		if app.Issuance != nil { // the code was accepted: none is needed
			seeOther(w, r, activationPath(state))
			return
		}
		_, err := p.cfg.Service.ResendCode(r.Context(), a.ID)
		if err == nil {
			key := "flash.code_resent_email"
			if state == enrollment.StateActivationPhoneOTP {
				key = "flash.code_resent_sms"
			}
			p.setFlash(r, key)
			seeOther(w, r, activationPath(state))
			return
		}
		if status, msg, ok := p.codeRefusal(w, r, err); ok {
			p.renderCode(w, r, status, a, app, codePage{Error: msg})
			return
		}
		if !p.stateMoved(w, r, err) {
			p.serverError(w, r, err)
		}
	}
}
