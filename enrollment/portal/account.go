package portal

import (
	"errors"
	"net/http"

	"github.com/psre/appliance/store"
)

// States of DESIGN.md, in flow order; each has "state.<s>" (its label) and
// "next.<s>" (what the applicant does next) in the catalogs.
var applicationStates = []string{
	"registered", "verification_requested", "awaiting_payment", "payment_submitted", "ra_review",
	"activation_pending", "activation_email_otp", "activation_phone_otp", "issued",
	"rejected_correctable", "rejected", "revoked", "expired",
}

type accountPage struct {
	Name, Username         string
	State                  string // the machine name, for data-state
	StateLabel, NextAction string // catalog keys
}

// account shows the logged-in applicant their application's state.
func (p *Portal) account(w http.ResponseWriter, r *http.Request) {
	id, username := p.loggedIn(r)
	if id == "" {
		seeOther(w, r, "/login")
		return
	}
	a, err := p.cfg.DB.ApplicantByIndex("username", []byte(username))
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.ID != id) {
		if sess := p.session(r); sess != nil {
			p.sessions.remove(sess)
		}
		seeOther(w, r, "/login")
		return
	}
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	app, err := p.cfg.DB.ApplicationOf(id)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	label, next := "state.unknown", "next.unknown"
	if _, ok := p.cats[languages[0]]["state."+app.State]; ok {
		label, next = "state."+app.State, "next."+app.State
	}
	p.render(w, r, http.StatusOK, "account", "account.title", accountPage{
		Name: a.Name, Username: a.Username, State: app.State, StateLabel: label, NextAction: next})
}
