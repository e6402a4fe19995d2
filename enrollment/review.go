package enrollment

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/store"
)

// CorrectableFields are what an RA may ask an applicant to correct.
var CorrectableFields = []string{"name", "nik", "birth_date", "ktp_photo", "selfie", "specimen"}

// Approve is an RA approval. With four eyes configured (RAApprovals 2) the
// first approval keeps the application in review for a second RA officer.
// The final approval creates the activation link and emails it.
func (s *Service) Approve(ctx context.Context, officer Actor, appID string) (store.Application, error) {
	return s.transition(ctx, appID, step{
		action: "application.approve", from: []string{StateRAReview}, to: StateActivationPending,
		actor: officer, role: store.RoleRA,
		change: func(tx *bolt.Tx, c *change) error {
			if samePerson(tx, c.officer, c.app.ConfirmedBy) {
				return &SegregationError{Rule: "the officer who confirmed the payment cannot approve the application"}
			}
			for _, ap := range c.app.Approvals {
				if samePerson(tx, c.officer, ap.Officer) {
					return &SegregationError{Rule: "a second approval must come from another RA officer"}
				}
			}
			c.app.Approvals = append(c.app.Approvals, store.Approval{Officer: officer.ID, At: s.now().UTC()})
			c.details["approvals"] = fmt.Sprint(len(c.app.Approvals))
			if len(c.app.Approvals) < s.wf.RAApprovals {
				c.to = StateRAReview
				return nil
			}
			token, act, err := s.newActivation()
			if err != nil {
				return err
			}
			c.app.Activation = act
			c.app.Rejection = nil
			c.notify("approved", map[string]any{
				"ActivationURL": strings.TrimRight(s.wf.PortalURL, "/") + "/aktivasi?token=" + token,
				"ExpiresAt":     act.Expires,
			})
			return nil
		},
	})
}

// newActivation makes an activation link token: only its SHA-256 is kept.
func (s *Service) newActivation() (string, *store.Activation, error) {
	raw := make([]byte, 32)
	if _, err := io.ReadFull(s.random, raw); err != nil {
		return "", nil, fmt.Errorf("activation token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	h := sha256.Sum256([]byte(token))
	return token, &store.Activation{TokenHash: h[:], Expires: s.now().UTC().Add(s.wf.ActivationTTL)}, nil
}

// Reject is an RA rejection. A correctable one names the fields (from
// CorrectableFields) the applicant must fix; a final one ends the
// application.
func (s *Service) Reject(ctx context.Context, officer Actor, appID, reason string, fields []string, correctable bool) (store.Application, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return store.Application{}, err
	}
	to, action := StateRejected, "application.reject_final"
	if correctable {
		to, action = StateRejectedCorrectable, "application.reject_correctable"
		if len(fields) == 0 {
			return store.Application{}, errors.New("a correctable rejection must name the fields to correct")
		}
		for _, f := range fields {
			if !slices.Contains(CorrectableFields, f) {
				return store.Application{}, fmt.Errorf("%q is not a field the applicant can correct", f)
			}
		}
		fields = slices.Compact(slices.Sorted(slices.Values(fields)))
	} else {
		fields = nil
	}
	return s.transition(ctx, appID, step{
		action: action, from: []string{StateRAReview}, to: to, actor: officer, role: store.RoleRA,
		change: func(_ *bolt.Tx, c *change) error {
			c.reason = reason
			c.app.Approvals = nil
			c.app.Rejection = &store.Rejection{Reason: reason, Fields: fields, Correctable: correctable, By: officer.ID, At: s.now().UTC()}
			if len(fields) > 0 {
				c.details["fields"] = strings.Join(fields, ",")
			}
			c.notify("rejected", map[string]any{"Reason": reason, "Fields": fields, "Correctable": correctable})
			return nil
		},
	})
}

// Queue lists the applications in state for an officer of role.
func (s *Service) Queue(state string) ([]store.Application, error) {
	var apps []store.Application
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		apps, err = store.ApplicationsInState(tx, state)
		return err
	})
	return apps, err
}

// traits are the keyed hashes of what should be unique in practice but is
// not enforced: the same name and birth date, the same KTP photo.
func (s *Service) traits(name string, birth time.Time, ktp []byte) map[string][]byte {
	photo := sha256.Sum256(ktp)
	return map[string][]byte{
		"name_birth": s.index.Hash("name_birth", strings.ToLower(name)+"|"+birth.Format("2006-01-02")),
		"ktp_photo":  s.index.Hash("ktp_photo", string(photo[:])),
	}
}

// samePerson reports whether officer o is the officer of fingerprint fp or
// the same person under another certificate (same email or NIK).
func samePerson(tx *bolt.Tx, o store.Officer, fp string) bool {
	if fp == "" {
		return false
	}
	if o.Fingerprint == fp {
		return true
	}
	other, err := store.GetOfficer(tx, fp)
	if err != nil {
		return false
	}
	return store.SameHash(o.EmailHash, other.EmailHash) || store.SameHash(o.NIKHash, other.NIKHash)
}
