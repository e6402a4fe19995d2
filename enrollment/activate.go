package enrollment

import (
	"context"
	"crypto"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/enrollment/otp"
)

// SubscriberKeys makes and destroys subscribers' signing keys in the HSM
// (the users token): ECDSA P-256, sensitive, never extractable.
type SubscriberKeys interface {
	// GenerateOrFind returns the public key of the key labelled label,
	// generating it if the token has none: a resumed issuance finds the key
	// an interrupted one made, and never makes a second.
	GenerateOrFind(ctx context.Context, label string) (crypto.PublicKey, error)
	// Destroy removes the key labelled label; a missing key is no error.
	Destroy(ctx context.Context, label string) error
}

// Authority issues and revokes subscriber certificates (the issuing CA).
type Authority interface {
	// IssueIndividual issues the individual-profile certificate of r and
	// returns its DER once it is stored.
	IssueIndividual(ctx context.Context, r IndividualRequest) ([]byte, error)
	// IssuedFor returns the issued certificate whose request named
	// requester, if any: the certificate of an interrupted issuance.
	IssuedFor(ctx context.Context, requester string) ([]byte, bool, error)
	// Revoke revokes serial (hex) with an RFC 5280 reason code; revoking
	// again with the same reason is no error.
	Revoke(ctx context.Context, serial string, reason int, actor string) error
	// Chain is the DER of the issuing CA and the root, for downloads.
	Chain() [][]byte
}

// IndividualRequest is what a subscriber certificate certifies.
type IndividualRequest struct {
	PublicKey    crypto.PublicKey
	Name, Email  string
	SubscriberID string // opaque, never the NIK
	Requester    string
}

// Consents are the versions of the two texts the applicant accepted on the
// phone OTP page (seed step 19).
type Consents struct {
	Issuance  string // Persetujuan Penerbitan Sertifikat Elektronik
	Ownership string // Perjanjian Kepemilikan Sertifikat
}

// ActivationConfig enables activation (seed steps 16 to 20) and the
// subscriber's certificate operations.
type ActivationConfig struct {
	CodePolicy otp.Policy // zero: 6 digits, 5 minutes, 5 tries, 1 a minute, 5 an hour
	Keys       SubscriberKeys
	Authority  Authority
	Consents   Consents // the versions in force
}

// ErrConsentRequired means a consent was not given, or not to the text in
// force.
var ErrConsentRequired = errors.New("both consents are required")

// ErrNoActivation means the service was built without WithActivation.
var ErrNoActivation = errors.New("activation is not configured")

// CodeError is a wrong, expired or dead one-time code. Remaining is the
// number of tries left for a wrong one.
type CodeError struct {
	Err       error // otp.ErrWrong, ErrExpired, ErrDead or ErrNone
	Remaining int
}

func (e *CodeError) Error() string { return e.Err.Error() }
func (e *CodeError) Unwrap() error { return e.Err }

// activation is the configured activation with its per-application locks.
type activation struct {
	ActivationConfig
	codes *otp.Codes
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// WithActivation enables activation. Call it once, after WithWorkflow.
func (s *Service) WithActivation(cfg ActivationConfig) error {
	if cfg.Keys == nil || cfg.Authority == nil {
		return errors.New("activation: Keys and Authority are required")
	}
	if cfg.Consents.Issuance == "" || cfg.Consents.Ownership == "" {
		return errors.New("activation: the versions of both consent texts are required")
	}
	if err := s.db.Update(otp.Init); err != nil {
		return fmt.Errorf("activation: %w", err)
	}
	s.act = &activation{ActivationConfig: cfg, locks: map[string]*sync.Mutex{},
		codes: otp.New(cfg.CodePolicy, s.index, s.random, func() time.Time { return s.now() })}
	return nil
}

// lock serialises the HSM work of one application within this process
// (the bbolt file admits one process).
func (a *activation) lock(id string) func() {
	a.mu.Lock()
	l := a.locks[id]
	if l == nil {
		l = &sync.Mutex{}
		a.locks[id] = l
	}
	a.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// One-time code purposes.
const (
	PurposeActivationEmail = "activation_email"
	PurposeActivationPhone = "activation_phone"
	PurposeRevoke          = "revoke"
)

// sendCode issues a code for purpose inside the transaction and queues it
// by email or SMS.
func (s *Service) sendCode(tx *bolt.Tx, c *change, purpose, channel string, binding []byte, document string) error {
	code, err := s.act.codes.Issue(tx, c.app.ID, purpose, binding)
	if err != nil {
		return err
	}
	data := map[string]any{"Code": code, "ValidMinutes": int(s.act.codes.Policy().TTL.Minutes()), "Purpose": document}
	if channel == "sms" {
		data["Name"] = c.applicant.Name
		c.notes = append(c.notes, Notification{Kind: "otp_sms", Channel: "sms", Lang: c.applicant.Lang, To: c.applicant.Phone, Data: data})
	} else {
		c.notify("otp_email", data)
	}
	c.details["code_channel"] = channel
	return nil
}

// checkCode verifies a code inside the transaction. A wrong one is a
// failed step that still commits (the attempt must count).
func (s *Service) checkCode(tx *bolt.Tx, c *change, purpose string, binding []byte, code string) error {
	remaining, err := s.act.codes.Verify(tx, c.app.ID, purpose, binding, code)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, otp.ErrWrong), errors.Is(err, otp.ErrDead):
		c.fail = &CodeError{Err: err, Remaining: remaining}
		return nil
	case errors.Is(err, otp.ErrExpired), errors.Is(err, otp.ErrNone):
		return &CodeError{Err: err}
	}
	return err
}

// subscriberID is the opaque identifier in the certificate's subject:
// base32 of the applicant id, which never holds a run of 16 digits.
func subscriberID(applicantID string) string {
	raw, err := hex.DecodeString(applicantID)
	if err != nil {
		raw = []byte(applicantID)
	}
	return "PSRE-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
}
