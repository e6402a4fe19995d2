package enrollment

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/store"
)

// checkToken checks an activation link token against app's activation.
func (s *Service) checkToken(app store.Application, token string) error {
	act := app.Activation
	if act == nil {
		return ErrActivationInvalid
	}
	h := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(h[:], act.TokenHash) != 1 {
		return ErrActivationInvalid
	}
	if act.Used {
		return ErrActivationUsed
	}
	if !s.now().Before(act.Expires) {
		return ErrActivationExpired
	}
	return nil
}

// StartActivation is the "Aktivasi" button of the approval email (seed
// step 16) opened in the applicant's own session: it consumes the link and
// emails the first code (step 17).
func (s *Service) StartActivation(ctx context.Context, applicantID, token string) (store.Application, error) {
	if s.act == nil {
		return store.Application{}, ErrNoActivation
	}
	return s.transition(ctx, applicantID, step{
		action: "activation.start", from: []string{StateActivationPending}, to: StateActivationEmailOTP,
		actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, c *change) error {
			if err := s.checkToken(*c.app, token); err != nil {
				return err
			}
			c.app.Activation.Used = true
			return s.sendCode(tx, c, PurposeActivationEmail, "email", nil, "")
		},
	})
}

// ResendCode sends the code of the current activation step again (email
// or SMS), within the resend limits.
func (s *Service) ResendCode(ctx context.Context, applicantID string) (store.Application, error) {
	if s.act == nil {
		return store.Application{}, ErrNoActivation
	}
	return s.transition(ctx, applicantID, step{
		action: "activation.resend_code", from: []string{StateActivationEmailOTP, StateActivationPhoneOTP},
		actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, c *change) error {
			c.to = c.app.State
			if c.app.State == StateActivationEmailOTP {
				return s.sendCode(tx, c, PurposeActivationEmail, "email", nil, "")
			}
			if c.app.Issuance != nil {
				return errors.New("the certificate is being issued: no new code is needed")
			}
			return s.sendCode(tx, c, PurposeActivationPhone, "sms", nil, "")
		},
	})
}

// VerifyEmailCode is seed step 17: the emailed code confirms the email
// address, and the phone code goes out by SMS (step 18).
func (s *Service) VerifyEmailCode(ctx context.Context, applicantID, code string) (store.Application, error) {
	if s.act == nil {
		return store.Application{}, ErrNoActivation
	}
	return s.transition(ctx, applicantID, step{
		action: "activation.email_code", from: []string{StateActivationEmailOTP}, to: StateActivationPhoneOTP,
		actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, c *change) error {
			if err := s.checkCode(tx, c, PurposeActivationEmail, nil, code); err != nil || c.fail != nil {
				return err
			}
			c.details["verified"] = "email" // no "email" in a key: audit refuses keys that name personal data
			return s.sendCode(tx, c, PurposeActivationPhone, "sms", nil, "")
		},
	})
}

// CompleteActivation is "Proses Kode OTP" (seed steps 18 to 20): with the
// SMS code and both consents to the texts in force, the evidence is
// recorded, then the subscriber's key is generated in the HSM and the
// certificate issued. Submitting again while or after it runs finishes the
// same issuance: one key and one certificate per activation.
func (s *Service) CompleteActivation(ctx context.Context, applicantID, code string, consents Consents) (store.Application, error) {
	if s.act == nil {
		return store.Application{}, ErrNoActivation
	}
	app, err := s.db.ApplicationOf(applicantID)
	if err != nil {
		return store.Application{}, err
	}
	if app.State == StateIssued || (app.State == StateActivationPhoneOTP && app.Issuance != nil) {
		return s.finishIssuance(ctx, app.ID) // a double submission
	}
	if consents != s.act.Consents {
		return store.Application{}, ErrConsentRequired
	}
	_, err = s.transition(ctx, applicantID, step{
		action: "activation.phone_code", from: []string{StateActivationPhoneOTP},
		actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, c *change) error {
			c.to = c.app.State
			if c.app.Issuance != nil {
				return nil // another submission got here first
			}
			if err := s.checkCode(tx, c, PurposeActivationPhone, nil, code); err != nil || c.fail != nil {
				return err
			}
			c.app.Issuance = &store.Issuance{KeyLabel: "subscriber-" + c.app.ID, Requester: "activation:" + c.app.ID,
				Consents: map[string]string{"issuance": consents.Issuance, "ownership": consents.Ownership},
				Channels: []string{"email", "sms"}, Started: s.now().UTC()}
			c.details["consent_issuance"] = consents.Issuance
			c.details["consent_ownership"] = consents.Ownership
			c.details["code_channels"] = "email,sms"
			return nil
		},
	})
	if err != nil {
		return store.Application{}, err
	}
	return s.finishIssuance(ctx, app.ID)
}

// finishIssuance generates (or finds) the subscriber's key, has the
// certificate issued (or finds the one an interrupted run issued), and
// moves the application to issued with an email carrying the certificate.
func (s *Service) finishIssuance(ctx context.Context, appID string) (store.Application, error) {
	defer s.act.lock(appID)()
	app, err := s.db.ApplicationOf(appID)
	if err != nil {
		return store.Application{}, err
	}
	if app.State == StateIssued {
		return app, nil
	}
	if app.State != StateActivationPhoneOTP || app.Issuance == nil {
		return store.Application{}, &StateError{Action: "activation.issue", State: app.State}
	}
	a, err := s.db.Applicant(app.ApplicantID)
	if err != nil {
		return store.Application{}, err
	}
	iss := app.Issuance
	der, found, err := s.act.Authority.IssuedFor(ctx, iss.Requester)
	if err != nil {
		return store.Application{}, fmt.Errorf("look for an interrupted issuance: %w", err)
	}
	if !found {
		pub, err := s.act.Keys.GenerateOrFind(ctx, iss.KeyLabel)
		if err != nil {
			return store.Application{}, fmt.Errorf("subscriber key: %w", err)
		}
		der, err = s.act.Authority.IssueIndividual(ctx, IndividualRequest{PublicKey: pub, Name: a.Name, Email: a.Email,
			SubscriberID: subscriberID(a.ID), Requester: iss.Requester})
		if err != nil {
			return store.Application{}, fmt.Errorf("issue the certificate: %w", err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return store.Application{}, fmt.Errorf("issued certificate: %w", err)
	}
	fp := sha256.Sum256(der)
	sc := &store.SubscriberCertificate{Serial: cert.SerialNumber.Text(16), Fingerprint: hex.EncodeToString(fp[:]),
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}
	return s.transition(ctx, appID, step{
		action: "activation.issued", from: []string{StateActivationPhoneOTP}, to: StateIssued,
		actor: Actor{Kind: "system", ID: "issuance"}, role: roleSystem,
		change: func(_ *bolt.Tx, c *change) error {
			if c.app.Issuance == nil || c.app.Issuance.Requester != iss.Requester {
				return errors.New("the issuance changed meanwhile")
			}
			c.app.Certificate = sc
			c.details["serial"] = sc.Serial
			c.notify("certificate_issued", map[string]any{"Serial": sc.Serial, "NotAfter": sc.NotAfter, "Fingerprint": sc.Fingerprint})
			c.notes[len(c.notes)-1].Attachments = []Attachment{{Name: "sertifikat-" + sc.Serial + ".pem",
				ContentType: "application/x-pem-file", Data: pemCert(der)}}
			return nil
		},
	})
}

// ResumeActivations finishes the issuances and revocations a crash or an
// HSM failure interrupted. It runs at start-up; the count is what it
// finished.
func (s *Service) ResumeActivations(ctx context.Context) (int, error) {
	if s.act == nil {
		return 0, nil
	}
	var pending, revoking []string
	err := s.db.View(func(tx *bolt.Tx) error {
		apps, err := store.ApplicationsInState(tx, StateActivationPhoneOTP)
		for _, a := range apps {
			if a.Issuance != nil {
				pending = append(pending, a.ID)
			}
		}
		if err != nil {
			return err
		}
		apps, err = store.ApplicationsInState(tx, StateIssued)
		for _, a := range apps {
			if a.Revocation != nil {
				revoking = append(revoking, a.ID)
			}
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, id := range pending {
		if _, err := s.finishIssuance(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("application %s: %w", id, err))
			continue
		}
		n++
	}
	for _, id := range revoking {
		if _, err := s.finishRevocation(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("application %s: %w", id, err))
			continue
		}
		n++
	}
	if n > 0 {
		s.log.InfoContext(ctx, "interrupted activations finished", "count", n, "at", time.Now().UTC())
	}
	return n, errors.Join(errs...)
}
