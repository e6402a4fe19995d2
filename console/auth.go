package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

type officerKey struct{}

// officerOf returns the officer authenticate put into r's context.
func officerOf(r *http.Request) store.Officer {
	o, _ := r.Context().Value(officerKey{}).(store.Officer)
	return o
}

// actorOf is the request's officer as the Service's actor.
func actorOf(r *http.Request) enrollment.Actor { return enrollment.Officer(officerOf(r)) }

// refusal is why a request was not authenticated: reason is the metric
// label, err an internal failure (500) rather than a refusal (403).
type refusal struct {
	reason string
	err    error
}

// authenticate admits the request only from an active officer whose
// client certificate the admin CA issued and has not revoked.
func (c *Console) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, ref := c.identify(r)
		if ref != nil {
			c.metrics.authFailures.WithLabelValues(ref.reason).Inc()
			if ref.err != nil {
				c.serverError(w, r, fmt.Errorf("authenticate officer: %w", ref.err))
				return
			}
			c.log.WarnContext(r.Context(), "console access refused", "reason", ref.reason, "route", routeOf(r))
			c.errorPage(w, r, http.StatusForbidden, "error.denied", "")
			return
		}
		noteOfficer(r, o.Name)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), officerKey{}, o)))
	})
}

// identify finds the officer of r's verified client certificate.
func (c *Console) identify(r *http.Request) (store.Officer, *refusal) {
	var o store.Officer
	switch {
	case r.TLS == nil:
		return o, &refusal{reason: "no_tls"}
	case len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0:
		return o, &refusal{reason: "no_client_certificate"}
	}
	chain := r.TLS.VerifiedChains[0]
	leaf := chain[0]
	if !directlyIssued(chain, c.cfg.AdminCA) {
		return o, &refusal{reason: "foreign_ca"}
	}
	now := c.cfg.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return o, &refusal{reason: "certificate_expired"}
	}
	sum := sha256.Sum256(leaf.Raw)
	err := c.cfg.DB.View(func(tx *bolt.Tx) (err error) {
		o, err = store.GetOfficer(tx, hex.EncodeToString(sum[:]))
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return o, &refusal{reason: "unknown_certificate"}
	case err != nil:
		return o, &refusal{reason: "store_error", err: err}
	case o.Status != store.OfficerActive:
		return o, &refusal{reason: "officer_disabled"}
	case !store.ValidRole(o.Role):
		return o, &refusal{reason: "bad_role"}
	}
	// The serial as the CA keys it: lower-case hex, no leading zeros.
	rec, err := c.cfg.DB.Certificate(leaf.SerialNumber.Text(16))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return o, &refusal{reason: "certificate_not_recorded"}
	case err != nil:
		return o, &refusal{reason: "store_error", err: err}
	case rec.State != store.StateIssued || !bytes.Equal(rec.DER, leaf.Raw):
		return o, &refusal{reason: "certificate_mismatch"}
	case rec.Status != store.StatusGood:
		return o, &refusal{reason: "certificate_revoked"}
	case !rec.NotAfter.IsZero() && now.After(rec.NotAfter):
		return o, &refusal{reason: "certificate_expired"}
	}
	return o, nil
}

// requireRole admits only officers of role ("" admits every officer).
func (c *Console) requireRole(role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if role != "" && officerOf(r).Role != role {
			c.metrics.authFailures.WithLabelValues("wrong_role").Inc()
			c.log.WarnContext(r.Context(), "console route of another role", "route", routeOf(r), "officer", officerOf(r).Name)
			c.errorPage(w, r, http.StatusForbidden, "error.wrong_role", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownApplication is the Service's segregation rule, checked here too: an
// officer never handles an application bearing their own email or NIK.
func (c *Console) ownApplication(o store.Officer, a store.Applicant) error {
	emailHash, _, err := c.cfg.Service.IdentityHashes(a.Email, "")
	if err != nil {
		return fmt.Errorf("applicant %s: %w", a.ID, err)
	}
	if store.SameHash(o.EmailHash, emailHash) || store.SameHash(o.NIKHash, a.NIKHash) {
		return &enrollment.SegregationError{Rule: "an officer never acts on an application bearing their own email or NIK"}
	}
	return nil
}

// load reads application id and its applicant for officer o, refusing
// o's own application.
func (c *Console) load(o store.Officer, id string) (app store.Application, a store.Applicant, err error) {
	err = c.cfg.DB.View(func(tx *bolt.Tx) error {
		if app, err = store.GetApplication(tx, id); err != nil {
			return err
		}
		a, err = store.GetApplicant(tx, app.ApplicantID)
		return err
	})
	if err != nil {
		return app, a, err
	}
	return app, a, c.ownApplication(o, a)
}
