package portal

import (
	"errors"
	"net/http"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// States of DESIGN.md, in flow order; each has "state.<s>" (its label) and
// "next.<s>" (what the applicant does next) in the catalogs.
var applicationStates = []string{
	"registered", "verification_requested", "awaiting_payment", "payment_submitted", "ra_review",
	"activation_pending", "activation_email_otp", "activation_phone_otp", "issued",
	"rejected_correctable", "rejected", "revoked", "expired",
}

// accountPage is the account page: the state and the next action always,
// and what the state asks of the applicant (see account.html).
type accountPage struct {
	Name, Username          string
	State                   string // the machine name, for data-state
	StateLabel, NextAction  string // catalog keys
	Flash                   string // catalog key: what the last action did
	Error                   string // catalog key: why the last upload was refused
	Invoice                 *invoiceView
	PaymentRejection        string // CS's reason for refusing the last proof
	ProofUploaded           string // when the proof under review arrived
	Rejection               *rejectionView
	NextLink, NextLinkLabel string // the page that resumes the flow, and its label (a catalog key)
}

// nextLinkLabels label the link to the page of activationPath.
var nextLinkLabels = map[string]string{
	"/aktivasi/email": "account.continue_email", "/aktivasi/telepon": "account.continue_phone",
	"/account/profile": "account.open_profile",
}

// rejectionView is the RA's last rejection as the applicant sees it.
type rejectionView struct {
	Reason      string
	Fields      []string // catalog keys of the fields to correct
	Correctable bool
}

// mine returns the logged-in caller's applicant and application, or sends
// the caller to the login page (or an error page) and reports false. Every
// account route is "my application": the applicant id comes from the
// session only, never from the request.
func (p *Portal) mine(w http.ResponseWriter, r *http.Request) (store.Applicant, store.Application, bool) {
	id, username := p.loggedIn(r)
	if id == "" {
		seeOther(w, r, loginURL(r))
		return store.Applicant{}, store.Application{}, false
	}
	a, err := p.cfg.DB.ApplicantByIndex("username", []byte(username))
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.ID != id) {
		if sess := p.session(r); sess != nil {
			p.sessions.remove(sess)
		}
		seeOther(w, r, loginURL(r))
		return store.Applicant{}, store.Application{}, false
	}
	if err != nil {
		p.serverError(w, r, err)
		return store.Applicant{}, store.Application{}, false
	}
	app, err := p.cfg.DB.ApplicationOf(id)
	if err != nil {
		p.serverError(w, r, err)
		return store.Applicant{}, store.Application{}, false
	}
	return a, app, true
}

// account shows the logged-in applicant their application's state.
func (p *Portal) account(w http.ResponseWriter, r *http.Request) {
	a, app, ok := p.mine(w, r)
	if !ok {
		return
	}
	p.renderAccount(w, r, http.StatusOK, a, app, p.takeFlash(r), "")
}

// renderAccount shows the account page with the flash message flash and
// the refusal errKey (catalog keys, either may be "").
func (p *Portal) renderAccount(w http.ResponseWriter, r *http.Request, status int, a store.Applicant, app store.Application, flash, errKey string) {
	label, next := "state.unknown", "next.unknown"
	if _, ok := p.cats[languages[0]]["state."+app.State]; ok {
		label, next = "state."+app.State, "next."+app.State
	}
	pg := accountPage{Name: a.Name, Username: a.Username, State: app.State, StateLabel: label, NextAction: next,
		Flash: flash, Error: errKey, NextLink: activationPath(app.State)}
	pg.NextLinkLabel = nextLinkLabels[pg.NextLink]
	switch app.State {
	case enrollment.StateAwaitingPayment:
		pg.Invoice = p.invoiceView(r, app.Invoice)
		pg.PaymentRejection = app.PaymentRejection
	case enrollment.StatePaymentSubmitted:
		pg.Invoice = p.invoiceView(r, app.Invoice)
		if app.PaymentProof != nil {
			pg.ProofUploaded = p.formatTime(lang(r), app.PaymentProof.Uploaded)
		}
	case enrollment.StateRejectedCorrectable, enrollment.StateRejected:
		if rej := app.Rejection; rej != nil {
			pg.Rejection = &rejectionView{Reason: rej.Reason, Correctable: rej.Correctable && app.State == enrollment.StateRejectedCorrectable}
			for _, f := range orderedFields(rej.Fields) {
				pg.Rejection.Fields = append(pg.Rejection.Fields, "correct."+f)
			}
		}
	}
	p.render(w, r, status, "account", "account.title", pg)
}

// setFlash keeps a message for the next account page of the caller.
func (p *Portal) setFlash(r *http.Request, key string) {
	if sess := p.session(r); sess != nil {
		sess.mu.Lock()
		sess.flash = key
		sess.mu.Unlock()
	}
}

// takeFlash returns the caller's pending message, once.
func (p *Portal) takeFlash(r *http.Request) string {
	sess := p.session(r)
	if sess == nil {
		return ""
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	key := sess.flash
	sess.flash = ""
	return key
}

// requestVerification is "Ajukan Verifikasi" (seed step 8): the request
// goes to CS and the applicant gets an acknowledgement by email.
func (p *Portal) requestVerification(w http.ResponseWriter, r *http.Request) {
	a, _, ok := p.mine(w, r)
	if !ok {
		return
	}
	_, err := p.cfg.Service.RequestVerification(r.Context(), a.ID)
	var se *enrollment.StateError
	switch {
	case errors.As(err, &se): // pressed twice, or the state moved on: the page says where it is
	case err != nil:
		p.serverError(w, r, err)
		return
	default:
		p.setFlash(r, "flash.verification_requested")
	}
	seeOther(w, r, "/account")
}
