package enrollment

import (
	"context"
	"errors"

	"github.com/psre/appliance/store"
)

// Refusals of an activation link (seed step 16). A wrong token and the
// token of another account are the same error: the caller cannot tell
// whether a token belongs to someone else.
var (
	ErrActivationInvalid = errors.New("the activation link is not valid for this account")
	ErrActivationExpired = errors.New("the activation link has expired")
	ErrActivationUsed    = errors.New("the activation link was already used")
)

// CheckActivation checks the activation link token that applicant
// applicantID opened: their application must be activation_pending and
// the token the one Approve emailed them (only its SHA-256 is stored,
// compared in constant time), unused and unexpired. It changes nothing:
// the link is consumed by the OTP steps that follow.
//
// The token is compared before Used and Expires are looked at, so that a
// token that is not the caller's is ErrActivationInvalid whatever the
// state of the caller's own link. A caller whose application is in
// another state gets a *StateError.
func (s *Service) CheckActivation(ctx context.Context, applicantID, token string) (store.Application, error) {
	app, err := s.db.ApplicationOf(applicantID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Application{}, ErrActivationInvalid
	}
	if err != nil {
		return store.Application{}, err
	}
	err = s.checkToken(app, token)
	if app.State != StateActivationPending {
		if errors.Is(err, ErrActivationUsed) {
			return app, err // the owner's link, already used: say so
		}
		return store.Application{}, &StateError{Action: "application.activate", State: app.State}
	}
	if err != nil {
		return store.Application{}, err
	}
	return app, nil
}
