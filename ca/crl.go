package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/store"
)

// DefaultCRLLifetime is the default distance from thisUpdate to nextUpdate.
const DefaultCRLLifetime = 7 * 24 * time.Hour

// CRLConfig wires a CRLSigner.
type CRLConfig struct {
	Name        string // the CA's name: root, issuing, admin
	Certificate *x509.Certificate
	Signer      crypto.Signer
	DB          *store.DB
	Linter      *lint.Linter
	Lifetime    time.Duration // 0: DefaultCRLLifetime
	Logger      *slog.Logger
	Now         func() time.Time
}

// CRLSigner signs and stores the CRLs of one CA.
type CRLSigner struct {
	cfg       CRLConfig
	throwaway crypto.Signer
	mu        sync.Mutex // one CRL at a time per CA: numbers never race
}

// NewCRLSigner checks cfg.
func NewCRLSigner(cfg CRLConfig) (*CRLSigner, error) {
	if cfg.Name == "" || cfg.Certificate == nil || cfg.Signer == nil || cfg.DB == nil || cfg.Linter == nil {
		return nil, errors.New("CRL signer: name, certificate, signer, DB and linter are all required")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultCRLLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	throwaway, err := lint.ThrowawayKey(cfg.Signer.Public())
	if err != nil {
		return nil, err
	}
	return &CRLSigner{cfg: cfg, throwaway: throwaway}, nil
}

// Sign makes, checks and stores the CA's next CRL: every revoked
// certificate of the CA that has not expired, with its reason and
// invalidity date, under the next cRLNumber.
func (c *CRLSigner) Sign(ctx context.Context) (store.CRLRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var number int64 = 1
	prev, err := c.cfg.DB.LatestCRL(c.cfg.Name)
	switch {
	case err == nil:
		number = prev.Number + 1
	case !errors.Is(err, store.ErrNotFound):
		return store.CRLRecord{}, err
	}
	now := c.cfg.Now().UTC().Truncate(time.Second)
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: now, NextUpdate: now.Add(c.cfg.Lifetime)}
	err = c.cfg.DB.ForEachCertificate(func(r store.CertRecord) error {
		if r.CA != c.cfg.Name || r.Status != store.StatusRevoked || r.NotAfter.Before(now) {
			return nil
		}
		serial, err := ParseSerial(r.Serial)
		if err != nil {
			return err
		}
		e := x509.RevocationListEntry{SerialNumber: serial, RevocationTime: r.RevokedAt, ReasonCode: r.Reason}
		if !r.InvalidityDate.IsZero() {
			ext, err := invalidityDateExtension(r.InvalidityDate)
			if err != nil {
				return err
			}
			e.ExtraExtensions = append(e.ExtraExtensions, ext)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, e)
		return nil
	})
	if err != nil {
		return store.CRLRecord{}, fmt.Errorf("collect revoked certificates of %s: %w", c.cfg.Name, err)
	}
	der, err := c.signChecked(tmpl)
	if err != nil {
		return store.CRLRecord{}, err
	}
	rec := store.CRLRecord{CA: c.cfg.Name, Number: number, ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate, DER: der}
	if err := c.cfg.DB.PutCRL(rec); err != nil {
		return store.CRLRecord{}, err
	}
	c.cfg.Logger.InfoContext(ctx, "CRL signed", "ca", c.cfg.Name, "number", number, "revoked", len(tmpl.RevokedCertificateEntries))
	return rec, nil
}

// signChecked is SignCRLChecked with this CA's keys.
func (c *CRLSigner) signChecked(tmpl *x509.RevocationList) ([]byte, error) {
	return SignCRLChecked(c.cfg.Linter, tmpl, c.cfg.Certificate, c.cfg.Signer, c.throwaway, nil)
}

// SignCRLChecked lints tmpl signed by throwaway (a key of the issuer's
// type), has signer (the HSM) sign it, checks the signature and that the
// TBS is the linted one, and lints the result again. A root's CRL (issuer
// self-signed) covers only CA certificates. step, if not nil, hears of
// each stage.
func SignCRLChecked(l *lint.Linter, tmpl *x509.RevocationList, issuer *x509.Certificate, signer, throwaway crypto.Signer, step func(string, string)) ([]byte, error) {
	if step == nil {
		step = func(string, string) {}
	}
	coversCAs := bytes.Equal(issuer.RawSubject, issuer.RawIssuer)
	lintIssuer := *issuer
	lintIssuer.PublicKey = throwaway.Public()
	pre, err := x509.CreateRevocationList(rand.Reader, tmpl, &lintIssuer, throwaway)
	if err != nil {
		return nil, fmt.Errorf("build the CRL to lint: %w", err)
	}
	if err := l.RevocationList(pre, coversCAs); err != nil {
		return nil, fmt.Errorf("before signing: %w", err)
	}
	step("lint", "zlint: no error or warning on the throwaway-signed CRL")
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, signer)
	if err != nil {
		return nil, fmt.Errorf("HSM signature of the CRL: %w", err)
	}
	step("hsm_sign", "CRL signed by the HSM")
	want, err := x509.ParseRevocationList(pre)
	if err != nil {
		return nil, err
	}
	got, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse the signed CRL: %w", err)
	}
	if !bytes.Equal(want.RawTBSRevocationList, got.RawTBSRevocationList) {
		return nil, ErrMismatch
	}
	if err := got.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the HSM's CRL signature does not verify: %w", err)
	}
	if err := l.RevocationList(der, coversCAs); err != nil {
		return nil, fmt.Errorf("after signing: %w", err)
	}
	step("verify", "signature verifies, TBS equals the linted TBS, zlint clean")
	return der, nil
}
