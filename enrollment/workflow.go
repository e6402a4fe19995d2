package enrollment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/store"
)

// The states of DESIGN.md's application flow.
const (
	StateVerificationRequested = "verification_requested"
	StateAwaitingPayment       = "awaiting_payment"
	StatePaymentSubmitted      = "payment_submitted"
	StateRAReview              = "ra_review"
	StateActivationPending     = "activation_pending"
	StateActivationEmailOTP    = "activation_email_otp"
	StateActivationPhoneOTP    = "activation_phone_otp"
	StateIssued                = "issued"
	StateRejectedCorrectable   = "rejected_correctable"
	StateRejected              = "rejected"
	StateRevoked               = "revoked"
	StateExpired               = "expired"
)

// Effects writes what a transition causes besides the application record,
// inside the transition's transaction: the audit record and the queued
// notifications. Committed is called after the transaction committed (to
// wake the outbox dispatcher).
type Effects interface {
	Audit(tx *bolt.Tx, e AuditEntry) error
	Notify(tx *bolt.Tx, n Notification) error
	Committed()
}

// AuditEntry is one audit record. Details never hold personal data.
type AuditEntry struct {
	Actor, Action, Object string
	Details               map[string]string
}

// Notification is a message to queue: Kind names the template (see
// notify.Templates), Data its fields.
type Notification struct {
	Kind    string
	Channel string // "email" or "sms"
	Lang    string
	To      string
	Data    map[string]any
	// Attachments are files sent with an email (name -> content), e.g. the
	// issued certificate.
	Attachments []Attachment
}

// Attachment is a file attached to an email.
type Attachment struct {
	Name, ContentType string
	Data              []byte
}

// ErrNoWorkflow means the service was built without WithWorkflow.
var ErrNoWorkflow = errors.New("the application workflow is not configured")

// ErrForbidden means the actor may not take this action on this
// application (wrong role, not the owner, disabled officer).
var ErrForbidden = errors.New("not allowed to act on this application")

// StateError refuses a transition from the wrong state.
type StateError struct {
	Action, State string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("%s is not possible while the application is %s", e.Action, e.State)
}

// SegregationError refuses an action that segregation of duties forbids.
type SegregationError struct{ Rule string }

func (e *SegregationError) Error() string { return "segregation of duties: " + e.Rule }

// Actor is who asks for a transition: an applicant (ID is the applicant
// id) or an officer (ID is the certificate fingerprint).
type Actor struct {
	Kind string // "applicant" or "officer"
	ID   string
	Name string // officer name, for the audit log
	Role string
}

// Applicant is the actor of applicant id.
func Applicant(id string) Actor { return Actor{Kind: "applicant", ID: id} }

// Officer is the actor of a console officer.
func Officer(o store.Officer) Actor {
	return Actor{Kind: "officer", ID: o.Fingerprint, Name: o.Name, Role: o.Role}
}

func (a Actor) String() string {
	if a.Kind == "officer" {
		return "officer:" + a.Role + ":" + a.Name
	}
	return a.Kind + ":" + a.ID
}

// roleSystem marks the steps the appliance takes itself (the end of an
// issuance or revocation), never on a request.
const roleSystem = "system"

// step is one transition of the state machine.
type step struct {
	action string   // audit action
	from   []string // states it may start from
	to     string
	actor  Actor
	role   string // the officer role it needs; "" means the applicant who owns the application
	change func(tx *bolt.Tx, c *change) error
}

// change is what a step's change function may alter.
type change struct {
	app              *store.Application
	applicant        *store.Applicant
	officer          store.Officer // the acting officer's record, read in the transaction
	to               string        // the next state (a step may keep the current one)
	reason           string
	details          map[string]string
	notes            []Notification
	applicantChanged bool
	// fail refuses the step after its change function ran, while still
	// committing what that function wrote (a counted wrong code) and an
	// audit entry of the failure; the application is not changed.
	fail error
}

func (c *change) notify(kind string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["Name"] = c.applicant.Name
	c.notes = append(c.notes, Notification{Kind: kind, Channel: "email", Lang: c.applicant.Lang, To: c.applicant.Email, Data: data})
}

// transition runs st on application id in one transaction: it checks the
// state and the actor, applies the change, writes the record, the audit
// entry and the notifications, or changes nothing.
func (s *Service) transition(ctx context.Context, id string, st step) (store.Application, error) {
	if s.wf == nil {
		return store.Application{}, ErrNoWorkflow
	}
	var out store.Application
	var failed error
	err := s.db.Update(func(tx *bolt.Tx) error {
		app, err := store.GetApplication(tx, id)
		if err != nil {
			return err
		}
		a, err := store.GetApplicant(tx, app.ApplicantID)
		if err != nil {
			return err
		}
		c := &change{app: &app, applicant: &a, to: st.to, details: map[string]string{}}
		if c.officer, err = s.authorize(tx, st, a); err != nil {
			return err
		}
		if !slices.Contains(st.from, app.State) {
			return &StateError{Action: st.action, State: app.State}
		}
		if st.change != nil {
			if err := st.change(tx, c); err != nil {
				return err
			}
		}
		if c.fail != nil {
			failed = c.fail
			c.details["error"] = failureClass(c.fail)
			return s.wf.Effects.Audit(tx, AuditEntry{Actor: st.actor.String(), Action: st.action + ".failed", Object: "application/" + app.ID, Details: c.details})
		}
		now := s.now().UTC()
		from := app.State
		app.State, app.Updated = c.to, now
		if from != c.to {
			app.History = append(app.History, store.Transition{From: from, To: c.to, Actor: st.actor.String(), Reason: c.reason, At: now})
		}
		if err := store.PutApplication(tx, app); err != nil {
			return err
		}
		if c.applicantChanged {
			if err := store.PutApplicant(tx, a); err != nil {
				return err
			}
		}
		c.details["from"], c.details["to"] = from, c.to
		if err := s.wf.Effects.Audit(tx, AuditEntry{Actor: st.actor.String(), Action: st.action, Object: "application/" + app.ID, Details: c.details}); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		for _, n := range c.notes {
			if n.Data["PortalURL"] == nil {
				n.Data["PortalURL"] = s.wf.PortalURL
			}
			if err := s.wf.Effects.Notify(tx, n); err != nil {
				return fmt.Errorf("queue %s notification: %w", n.Kind, err)
			}
		}
		out = app
		return nil
	})
	if err == nil && failed != nil {
		err = failed
	}
	if err != nil {
		return store.Application{}, err
	}
	s.wf.Effects.Committed()
	s.log.InfoContext(ctx, "application transition", "application", id, "action", st.action, "actor", st.actor.String(), "state", out.State)
	return out, nil
}

// authorize checks that st's actor may act on applicant a's application,
// with the officer's record as stored now (a disabled officer is refused
// even if the console still holds an old copy).
func (s *Service) authorize(tx *bolt.Tx, st step, a store.Applicant) (store.Officer, error) {
	if st.role == roleSystem {
		if st.actor.Kind != "system" {
			return store.Officer{}, ErrForbidden
		}
		return store.Officer{}, nil
	}
	if st.role == "" {
		if st.actor.Kind != "applicant" || st.actor.ID != a.ID {
			return store.Officer{}, ErrForbidden
		}
		return store.Officer{}, nil
	}
	if st.actor.Kind != "officer" {
		return store.Officer{}, ErrForbidden
	}
	o, err := store.GetOfficer(tx, st.actor.ID)
	if err != nil || o.Status != store.OfficerActive || o.Role != st.role {
		return store.Officer{}, ErrForbidden
	}
	if store.SameHash(o.EmailHash, s.index.Hash("email", a.Email)) || store.SameHash(o.NIKHash, a.NIKHash) {
		return store.Officer{}, &SegregationError{Rule: "an officer never acts on an application bearing their own email or NIK"}
	}
	return o, nil
}

// WorkflowConfig configures the application flow after registration.
type WorkflowConfig struct {
	Effects       Effects
	PortalURL     string // base of the links in emails, e.g. http://127.0.0.1:8080
	Invoice       InvoiceConfig
	RAApprovals   int           // approvals needed (1, or 2 for four eyes)
	ActivationTTL time.Duration // lifetime of the activation link (default 72 h)
}

// WithWorkflow enables the transitions after registration. Call it once,
// before the service is used.
func (s *Service) WithWorkflow(cfg WorkflowConfig) error {
	if cfg.Effects == nil || cfg.PortalURL == "" {
		return errors.New("workflow: Effects and PortalURL are required")
	}
	if err := cfg.Invoice.check(); err != nil {
		return err
	}
	if cfg.RAApprovals == 0 {
		cfg.RAApprovals = 1
	}
	if cfg.RAApprovals < 1 || cfg.RAApprovals > 2 {
		return fmt.Errorf("workflow: RA approvals must be 1 or 2, not %d", cfg.RAApprovals)
	}
	if cfg.ActivationTTL == 0 {
		cfg.ActivationTTL = 72 * time.Hour
	}
	s.wf = &cfg
	return nil
}

// IdentityHashes returns the keyed hashes of an email address and a NIK as
// the applicant indexes hold them, for an officer's record (segregation of
// duties compares them). Either may be empty.
func (s *Service) IdentityHashes(email, nik string) (emailHash, nikHash []byte, err error) {
	if email != "" {
		if email, err = NormalizeEmail(email); err != nil {
			return nil, nil, fmt.Errorf("officer email: %w", err)
		}
		emailHash = s.index.Hash("email", email)
	}
	if nik != "" {
		if len(nik) != 16 || strings.Trim(nik, "0123456789") != "" {
			return nil, nil, errors.New("officer NIK: not 16 digits")
		}
		nikHash = s.index.Hash("nik", nik)
	}
	return emailHash, nikHash, nil
}

// failureClass names a refused step's error for the audit log, without
// anything the applicant typed.
func failureClass(err error) string {
	var ce *CodeError
	if errors.As(err, &ce) {
		return "code:" + strings.TrimPrefix(ce.Err.Error(), "the code ")
	}
	return "refused"
}
