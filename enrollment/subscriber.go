package enrollment

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/store"
)

// Revocation reasons a subscriber may give (RFC 5280 codes).
const (
	ReasonKeyCompromise        = 1
	ReasonCessationOfOperation = 5 // no longer needed
)

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// CertificateOf returns the issued certificate of applicantID's
// application with its chain (issuing CA, root), and the record.
func (s *Service) CertificateOf(ctx context.Context, applicantID string) (der []byte, chain [][]byte, rec store.CertRecord, err error) {
	if s.act == nil {
		return nil, nil, rec, ErrNoActivation
	}
	app, err := s.db.ApplicationOf(applicantID)
	if err != nil {
		return nil, nil, rec, err
	}
	if app.Certificate == nil {
		return nil, nil, rec, fmt.Errorf("no certificate yet: %w", store.ErrNotFound)
	}
	if rec, err = s.db.Certificate(app.Certificate.Serial); err != nil {
		return nil, nil, rec, err
	}
	return rec.DER, s.act.Authority.Chain(), rec, nil
}

// SendRevocationCode sends the code that confirms a subscriber's
// revocation, by SMS.
func (s *Service) SendRevocationCode(ctx context.Context, applicantID string) (store.Application, error) {
	if s.act == nil {
		return store.Application{}, ErrNoActivation
	}
	return s.transition(ctx, applicantID, step{
		action: "certificate.revocation_code", from: []string{StateIssued}, actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, c *change) error {
			c.to = c.app.State
			return s.sendCode(tx, c, PurposeRevoke, "sms", nil, "")
		},
	})
}

// ErrPassword means the password given to confirm an action is wrong.
var ErrPassword = errors.New("the password is wrong")

// RevokeOwn is the subscriber revoking their certificate (key compromise,
// or no longer needed) with their password and a fresh code. The CA
// revokes at once (CRL and OCSP follow), the key is destroyed in the HSM,
// and the application ends revoked.
func (s *Service) RevokeOwn(ctx context.Context, applicantID, password, code string, reason int) (store.Application, error) {
	if s.act == nil {
		return store.Application{}, ErrNoActivation
	}
	if reason != ReasonKeyCompromise && reason != ReasonCessationOfOperation {
		return store.Application{}, fmt.Errorf("revocation reason %d: a subscriber revokes for key compromise or because the certificate is no longer needed", reason)
	}
	a, err := s.db.Applicant(applicantID)
	if err != nil {
		return store.Application{}, err
	}
	if err := s.checkPassword(ctx, a, password); err != nil {
		return store.Application{}, err
	}
	_, err = s.transition(ctx, applicantID, step{
		action: "certificate.revoke_requested", from: []string{StateIssued}, actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, c *change) error {
			c.to = c.app.State
			if c.app.Revocation != nil {
				return nil
			}
			if err := s.checkCode(tx, c, PurposeRevoke, nil, code); err != nil || c.fail != nil {
				return err
			}
			c.app.Revocation = &store.RevocationRequest{Reason: reason, Actor: Applicant(applicantID).String(), Requested: s.now().UTC()}
			c.details["reason"] = fmt.Sprint(reason)
			return nil
		},
	})
	if err != nil {
		return store.Application{}, err
	}
	return s.finishRevocation(ctx, applicantID)
}

// finishRevocation revokes at the CA, destroys the key and ends the
// application; each step is idempotent, so an interrupted run resumes.
func (s *Service) finishRevocation(ctx context.Context, appID string) (store.Application, error) {
	defer s.act.lock(appID)()
	app, err := s.db.ApplicationOf(appID)
	if err != nil {
		return store.Application{}, err
	}
	if app.State == StateRevoked {
		return app, nil
	}
	if app.State != StateIssued || app.Revocation == nil || app.Certificate == nil || app.Issuance == nil {
		return store.Application{}, &StateError{Action: "certificate.revoke", State: app.State}
	}
	rv := *app.Revocation
	if rec, err := s.db.Certificate(app.Certificate.Serial); err != nil || rec.Status != store.StatusRevoked {
		if err := s.act.Authority.Revoke(ctx, app.Certificate.Serial, rv.Reason, rv.Actor); err != nil {
			return store.Application{}, fmt.Errorf("revoke at the CA: %w", err)
		}
	}
	if err := s.act.Keys.Destroy(ctx, app.Issuance.KeyLabel); err != nil {
		return store.Application{}, fmt.Errorf("destroy the subscriber key: %w", err)
	}
	reasonText := map[string]map[int]string{
		"id": {ReasonKeyCompromise: "kunci diduga bocor", ReasonCessationOfOperation: "tidak diperlukan lagi"},
		"en": {ReasonKeyCompromise: "key compromise", ReasonCessationOfOperation: "no longer needed"},
	}
	return s.transition(ctx, appID, step{
		action: "certificate.revoked", from: []string{StateIssued}, to: StateRevoked,
		actor: Actor{Kind: "system", ID: "revocation"}, role: roleSystem,
		change: func(_ *bolt.Tx, c *change) error {
			c.reason = fmt.Sprint(rv.Reason)
			c.details["serial"] = c.app.Certificate.Serial
			lang := c.applicant.Lang
			if reasonText[lang] == nil {
				lang = "id"
			}
			c.notify("certificate_revoked", map[string]any{"Serial": c.app.Certificate.Serial, "Reason": reasonText[lang][rv.Reason]})
			return nil
		},
	})
}

// CertificateRevoked finishes the application whose certificate an
// officer revoked at the CA (the CLI or the admin API): the subscriber's
// key is destroyed, the application ends revoked and the subscriber is
// told. A serial of no application (an officer's certificate) is no error.
func (s *Service) CertificateRevoked(ctx context.Context, serial string, reason int, actor string) error {
	if s.act == nil {
		return nil
	}
	var appID string
	err := s.db.View(func(tx *bolt.Tx) error {
		apps, err := store.ApplicationsInState(tx, StateIssued)
		for _, a := range apps {
			if a.Certificate != nil && a.Certificate.Serial == serial {
				appID = a.ID
			}
		}
		return err
	})
	if err != nil || appID == "" {
		return err
	}
	_, err = s.transition(ctx, appID, step{
		action: "certificate.revoke_requested", from: []string{StateIssued}, actor: Actor{Kind: "system", ID: "ca"}, role: roleSystem,
		change: func(_ *bolt.Tx, c *change) error {
			c.to = c.app.State
			if c.app.Revocation == nil {
				c.app.Revocation = &store.RevocationRequest{Reason: reason, Actor: actor, Requested: s.now().UTC()}
			}
			c.details["reason"] = fmt.Sprint(reason)
			return nil
		},
	})
	if err != nil {
		return err
	}
	_, err = s.finishRevocation(ctx, appID)
	return err
}
