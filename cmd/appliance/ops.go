package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/store"
)

// issueRequest is what `cert issue` asks for (also the admin API's body).
type issueRequest struct {
	Profile string   `json:"profile"`
	CSR     []byte   `json:"csr"` // DER
	Name    string   `json:"name,omitempty"`
	Email   string   `json:"email,omitempty"`
	DNS     []string `json:"dns,omitempty"`
}

// issueResult is the issued certificate.
type issueResult struct {
	CA     string `json:"ca"`
	Serial string `json:"serial"`
	DER    []byte `json:"der"`
}

// revokeRequest is what `cert revoke` asks for.
type revokeRequest struct {
	Reason     string    `json:"reason"`
	Invalidity time.Time `json:"invalidity_date,omitzero"`
}

// caOps are the officer operations of the CLI. directOps runs them on an
// opened state directory; remoteOps sends them to the running service over
// the admin socket.
type caOps interface {
	issue(ctx context.Context, r issueRequest, actor string) (issueResult, error)
	revoke(ctx context.Context, serial string, r revokeRequest, actor string) (store.CertRecord, error)
	show(ctx context.Context, serial string) (store.CertRecord, error)
	crl(ctx context.Context, caName string) ([]byte, error)
	addOfficer(ctx context.Context, r officerRequest, actor string) (officerResult, error)
	listOfficers(ctx context.Context) ([]store.Officer, error)
	setOfficerStatus(ctx context.Context, name, status, actor string) (store.Officer, error)
	close()
}

type directOps struct{ st *state }

func (d directOps) close() { d.st.close() }

func (d directOps) issue(ctx context.Context, r issueRequest, actor string) (issueResult, error) {
	profile := ca.Profile(r.Profile)
	if profile != ca.ProfileOfficer && profile != ca.ProfileTLS {
		return issueResult{}, fmt.Errorf("%w: profile %q: the CLI issues officer and tls certificates (individual ones come from the portal)", ca.ErrBadRequest, r.Profile)
	}
	csr, err := ca.ParseCSR(r.CSR)
	if err != nil {
		return issueResult{}, err
	}
	caName, err := d.st.authority.IssuerFor(profile)
	if err != nil {
		return issueResult{}, err
	}
	name := r.Name
	if name == "" {
		name = csr.Subject.CommonName
	}
	cert, err := d.st.authority.Issue(ctx, caName, ca.Request{Profile: profile, PublicKey: csr.PublicKey,
		Name: name, Email: r.Email, DNSNames: r.DNS, Requester: actor})
	if err != nil {
		return issueResult{}, err
	}
	return issueResult{CA: caName, Serial: ca.SerialHex(cert.SerialNumber), DER: cert.Raw}, nil
}

func (d directOps) revoke(ctx context.Context, serial string, r revokeRequest, actor string) (store.CertRecord, error) {
	reason, err := ca.ParseReason(r.Reason)
	if err != nil {
		return store.CertRecord{}, err
	}
	rec, err := d.st.authority.Revoke(ctx, serial, reason, r.Invalidity, actor)
	if err != nil {
		return rec, err
	}
	// A subscriber's certificate: destroy the key, end the application.
	if err := d.st.enroll.CertificateRevoked(ctx, rec.Serial, reason, actor); err != nil {
		return rec, fmt.Errorf("certificate %s is revoked, but finishing its application failed (it is retried at the next start): %w", rec.Serial, err)
	}
	return rec, nil
}

func (d directOps) show(_ context.Context, serial string) (store.CertRecord, error) {
	return d.st.authority.Certificate(serial)
}

func (d directOps) crl(ctx context.Context, caName string) ([]byte, error) {
	if caName == "root" {
		return d.st.authority.CRL("root")
	}
	rec, err := d.st.authority.SignCRL(ctx, caName)
	if err != nil {
		return nil, err
	}
	return rec.DER, nil
}

// cliActor names the local user running the CLI, for records and logs.
func cliActor() string {
	uid := os.Getuid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Sprintf("cli:%s(uid=%d)", name, uid)
}

// openOps opens the officer operations on dir: through the running
// service's admin socket if one answers, else directly on the files.
func openOps(ctx context.Context, dir string, log *slog.Logger) (caOps, error) {
	if r, ok := dialAdmin(dir); ok {
		return r, nil
	}
	st, err := openState(ctx, dir, demoSettings(defaultPortalAddr), nil, log, ca.Hooks{})
	if err != nil {
		return nil, err
	}
	return directOps{st}, nil
}
