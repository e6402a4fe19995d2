package main

import (
	"context"
	"errors"
	"math/big"
	"time"

	xocsp "golang.org/x/crypto/ocsp"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/ocsp"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/store"
)

// ocspResponders are the delegated responders of the demo: each online CA
// with its responder certificate and key (made by the demo's ceremonies).
var ocspResponders = []struct{ ca, cert, key string }{
	{"issuing", "ocsp", "ocsp-issuing"},
	{"admin", "ocsp-admin", "ocsp-admin"},
}

// startOCSP builds the OCSP responder over the state's store and hooks it
// to the authority: a fresh response is pre-signed after each issuance and
// re-signed at once after each revocation.
func (st *state) startOCSP(ctx context.Context, reg prometheus.Registerer) (*ocsp.Responder, error) {
	var signers []ocsp.Signer
	for _, r := range ocspResponders {
		key, err := st.tok.Signer(ctx, hsm.URI{Token: st.tok.Name(), Object: r.key})
		if err != nil {
			return nil, err
		}
		signers = append(signers, ocsp.Signer{CA: r.ca, Issuer: st.certs[r.ca], Responder: st.certs[r.cert], Key: key})
	}
	resp, err := ocsp.New(ocsp.Config{Signers: signers, Status: st.ocspStatus, Cache: st.db, Registerer: reg, Logger: st.log})
	if err != nil {
		return nil, err
	}
	st.authority.SetHooks(ca.Hooks{
		Issued: func(ctx context.Context, caName string, serial *big.Int) {
			if err := resp.Presign(ctx, caName, serial); err != nil {
				st.log.WarnContext(ctx, "pre-signing the OCSP response failed; it is signed on first request", "ca", caName, "serial", serial.Text(16), "error", err)
			}
		},
		Revoked: func(ctx context.Context, caName string, serial *big.Int) {
			if err := resp.Invalidate(ctx, caName, serial); err != nil {
				st.log.ErrorContext(ctx, "re-signing the OCSP response after a revocation failed; stored responses were dropped, so requests sign afresh", "ca", caName, "serial", serial.Text(16), "error", err)
			}
		},
	})
	return resp, nil
}

// ocspStatus answers the responder from the certificate records. Only an
// issued certificate of that CA is good or revoked; anything else (no
// record, an abandoned intent, another CA's serial) is unknown.
func (st *state) ocspStatus(_ context.Context, caName string, serial *big.Int) (ocsp.CertStatus, error) {
	rec, err := st.db.Certificate(ca.SerialHex(serial))
	if errors.Is(err, store.ErrNotFound) {
		return ocsp.CertStatus{Status: xocsp.Unknown}, nil
	}
	if err != nil {
		return ocsp.CertStatus{}, err
	}
	if rec.CA != caName || rec.State != store.StateIssued {
		return ocsp.CertStatus{Status: xocsp.Unknown}, nil
	}
	if rec.Status == store.StatusRevoked {
		return ocsp.CertStatus{Status: xocsp.Revoked, RevokedAt: rec.RevokedAt.Truncate(time.Second), Reason: rec.Reason}, nil
	}
	return ocsp.CertStatus{Status: xocsp.Good}, nil
}
