package main

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// The consent texts in force (seed step 19); the portal shows
// consent/<version>.<lang>.html and the audit log records the version.
var currentConsents = enrollment.Consents{
	Issuance:  "persetujuan-penerbitan-2026-11",
	Ownership: "perjanjian-kepemilikan-2026-11",
}

// subscriberAuthority is the issuing CA as the activation sees it.
type subscriberAuthority struct {
	authority *ca.Authority
	db        *store.DB
	chain     [][]byte
}

func (a subscriberAuthority) IssueIndividual(ctx context.Context, r enrollment.IndividualRequest) ([]byte, error) {
	cert, err := a.authority.Issue(ctx, "issuing", ca.Request{Profile: ca.ProfileIndividual, PublicKey: r.PublicKey,
		Name: r.Name, Email: r.Email, SubscriberID: r.SubscriberID, Requester: r.Requester})
	if err != nil {
		return nil, err
	}
	return cert.Raw, nil
}

// IssuedFor scans the certificate records: it runs only to resume an
// interrupted activation.
func (a subscriberAuthority) IssuedFor(_ context.Context, requester string) ([]byte, bool, error) {
	var der []byte
	err := a.db.ForEachCertificate(func(r store.CertRecord) error {
		if r.Requester == requester && r.State == store.StateIssued && len(r.DER) > 0 {
			der = r.DER
		}
		return nil
	})
	return der, der != nil, err
}

func (a subscriberAuthority) Revoke(ctx context.Context, serial string, reason int, actor string) error {
	_, err := a.authority.Revoke(ctx, serial, reason, time.Time{}, actor)
	return err
}

func (a subscriberAuthority) Chain() [][]byte { return a.chain }

func chainOf(certs ...*x509.Certificate) [][]byte {
	var out [][]byte
	for _, c := range certs {
		out = append(out, c.Raw)
	}
	return out
}
