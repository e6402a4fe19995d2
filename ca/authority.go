package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/psre/appliance/store"
)

// Hooks let the faces and the OCSP responder follow the CA's state changes.
// Each is optional.
type Hooks struct {
	// Issued runs after a certificate is stored.
	Issued func(ctx context.Context, ca string, serial *big.Int)
	// Revoked runs after a revocation is stored, before the CA's CRL is
	// re-signed.
	Revoked func(ctx context.Context, ca string, serial *big.Int)
}

// Authority is the running CA: its issuers, their CRLs and the store. It is
// the one place a certificate is issued or revoked.
type Authority struct {
	db      *store.DB
	issuers map[string]*Issuer
	crls    map[string]*CRLSigner
	certs   map[string]*x509.Certificate // every CA certificate served, by name
	pkiDir  string                       // if set, CRLs are also written here as NAME.crl
	hooks   Hooks
	log     *slog.Logger

	mu    sync.Mutex
	stale map[string]bool // CAs whose latest CRL misses a revocation

	crlMu sync.Mutex // serialises SignCRL (sign, store, publish)
}

func (a *Authority) markStale(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stale[name] = true
}

func (a *Authority) isStale(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stale[name]
}

// AuthorityConfig wires an Authority.
type AuthorityConfig struct {
	DB           *store.DB
	Issuers      []*Issuer
	CRLSigners   []*CRLSigner
	Certificates map[string]*x509.Certificate // CA certificates by name (root, issuing, admin)
	PKIDir       string
	Hooks        Hooks
	Logger       *slog.Logger
}

// ErrUnknownCA means a CA name the appliance does not run.
var ErrUnknownCA = errors.New("unknown CA")

// NewAuthority wires the CA. It reconciles interrupted issuances first
// and reports them through the logger.
func NewAuthority(ctx context.Context, cfg AuthorityConfig) (*Authority, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Authority{db: cfg.DB, issuers: map[string]*Issuer{}, crls: map[string]*CRLSigner{},
		certs: map[string]*x509.Certificate{}, pkiDir: cfg.PKIDir, hooks: cfg.Hooks, log: cfg.Logger, stale: map[string]bool{}}
	for _, is := range cfg.Issuers {
		a.issuers[is.Name()] = is
		a.certs[is.Name()] = is.Certificate()
	}
	for _, c := range cfg.CRLSigners {
		a.crls[c.cfg.Name] = c
	}
	for name, c := range cfg.Certificates {
		a.certs[name] = c
	}
	if _, err := Reconcile(ctx, cfg.DB, cfg.Logger); err != nil {
		return nil, err
	}
	if err := a.findStaleCRLs(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// findStaleCRLs marks the CAs whose latest CRL misses a revoked, unexpired
// certificate: a crash between a revocation's commit and its CRL loses
// nothing, the next RefreshCRLs signs it.
func (a *Authority) findStaleCRLs(ctx context.Context) error {
	listed := map[string]map[string]bool{}
	for name := range a.crls {
		listed[name] = map[string]bool{}
		rec, err := a.db.LatestCRL(name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		crl, err := x509.ParseRevocationList(rec.DER)
		if err != nil {
			return fmt.Errorf("stored CRL of %s: %w", name, err)
		}
		for _, e := range crl.RevokedCertificateEntries {
			listed[name][SerialHex(e.SerialNumber)] = true
		}
	}
	now := time.Now()
	return a.db.ForEachCertificate(func(r store.CertRecord) error {
		inCRL, ok := listed[r.CA]
		if ok && r.Status == store.StatusRevoked && r.NotAfter.After(now) && !inCRL[r.Serial] && !a.isStale(r.CA) {
			a.log.WarnContext(ctx, "the latest CRL misses a revocation (interrupted before its CRL was signed); signing a new one", "ca", r.CA, "serial", r.Serial)
			a.markStale(r.CA)
		}
		return nil
	})
}

// SetHooks replaces the hooks. Call it before the Authority is used.
func (a *Authority) SetHooks(h Hooks) { a.hooks = h }

// CACertificate returns the certificate of CA name.
func (a *Authority) CACertificate(name string) (*x509.Certificate, error) {
	c, ok := a.certs[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownCA, name)
	}
	return c, nil
}

// CANames lists the CAs whose certificates are served.
func (a *Authority) CANames() []string {
	names := make([]string, 0, len(a.certs))
	for n := range a.certs {
		names = append(names, n)
	}
	return names
}

// Issue issues req under CA caName.
func (a *Authority) Issue(ctx context.Context, caName string, req Request) (*x509.Certificate, error) {
	is, ok := a.issuers[caName]
	if !ok {
		return nil, fmt.Errorf("%w %q: it does not issue certificates here", ErrUnknownCA, caName)
	}
	cert, err := is.Issue(ctx, req)
	if err != nil {
		return nil, err
	}
	if a.hooks.Issued != nil {
		a.hooks.Issued(ctx, caName, cert.SerialNumber)
	}
	return cert, nil
}

// IssuerFor returns the CA that issues profile p.
func (a *Authority) IssuerFor(p Profile) (string, error) {
	for name, is := range a.issuers {
		if _, ok := is.cfg.Profiles[p]; ok {
			return name, nil
		}
	}
	return "", badRequest("no CA here issues %q certificates", p)
}

// Certificate returns the record of a serial (hex).
func (a *Authority) Certificate(serial string) (store.CertRecord, error) {
	n, err := ParseSerial(serial)
	if err != nil {
		return store.CertRecord{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return a.db.Certificate(SerialHex(n))
}

// Revoke revokes a certificate, re-signs its CA's CRL and tells the hooks.
// Revoking again with the same reason and invalidity date changes nothing;
// a different story is refused (store.ErrRevokedDifferently).
func (a *Authority) Revoke(ctx context.Context, serial string, reason int, invalidity time.Time, actor string) (store.CertRecord, error) {
	n, err := ParseSerial(serial)
	if err != nil {
		return store.CertRecord{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if !validReason(reason) {
		return store.CertRecord{}, badRequest("reason code %d is not an RFC 5280 revocation reason", reason)
	}
	if actor == "" {
		return store.CertRecord{}, badRequest("the revoking actor is missing")
	}
	if !invalidity.IsZero() && invalidity.After(time.Now()) {
		return store.CertRecord{}, badRequest("the invalidity date lies in the future")
	}
	rec, changed, err := a.db.Revoke(SerialHex(n), store.Revocation{Reason: reason, InvalidityDate: invalidity, Actor: actor, At: time.Now()})
	if err != nil {
		return store.CertRecord{}, err
	}
	if !changed {
		return rec, nil // the same revocation again: nothing to publish
	}
	a.log.InfoContext(ctx, "certificate revoked", "serial", rec.Serial, "ca", rec.CA, "reason", reason, "actor", actor)
	// OCSP first: replacing one cached response is quicker than a CRL.
	if a.hooks.Revoked != nil {
		a.hooks.Revoked(ctx, rec.CA, n)
	}
	if _, err := a.SignCRL(ctx, rec.CA); err != nil && !errors.Is(err, ErrUnknownCA) {
		// The revocation is stored; the next maintenance tick retries.
		a.markStale(rec.CA)
		a.log.ErrorContext(ctx, "re-signing the CRL after a revocation failed; the next maintenance run retries", "ca", rec.CA, "error", err)
	}
	return rec, nil
}

func validReason(r int) bool {
	for _, code := range Reasons {
		if code == r {
			return true
		}
	}
	return false
}

// SignCRL signs the next CRL of CA name and, in demo, writes it to the PKI
// directory.
func (a *Authority) SignCRL(ctx context.Context, name string) (store.CRLRecord, error) {
	c, ok := a.crls[name]
	if !ok {
		return store.CRLRecord{}, fmt.Errorf("%w %q: its CRL is not signed by the running service", ErrUnknownCA, name)
	}
	// One CRL of this Authority at a time, so the published file never
	// goes back to an older number than the store's.
	a.crlMu.Lock()
	defer a.crlMu.Unlock()
	rec, err := c.Sign(ctx)
	if err != nil {
		return store.CRLRecord{}, err
	}
	a.mu.Lock()
	delete(a.stale, name)
	a.mu.Unlock()
	if a.pkiDir != "" {
		if err := writeFileAtomic(filepath.Join(a.pkiDir, name+".crl"), rec.DER); err != nil {
			return rec, fmt.Errorf("write CRL of %s: %w", name, err)
		}
	}
	return rec, nil
}

// CRL returns the latest CRL of CA name: from the store for the CAs the
// service signs for, or from the PKI directory for the root, whose key is
// used in ceremonies only.
func (a *Authority) CRL(name string) ([]byte, error) {
	if _, ok := a.crls[name]; ok {
		rec, err := a.db.LatestCRL(name)
		if err != nil {
			return nil, err
		}
		return rec.DER, nil
	}
	if _, ok := a.certs[name]; !ok || a.pkiDir == "" {
		return nil, fmt.Errorf("%w %q", ErrUnknownCA, name)
	}
	der, err := os.ReadFile(filepath.Join(a.pkiDir, name+".crl"))
	if err != nil {
		return nil, fmt.Errorf("CRL of %s: %w", name, store.ErrNotFound)
	}
	return der, nil
}

// RefreshCRLs signs a new CRL for every CA whose latest one is missing,
// misses a revocation (its re-signing failed), has less than half its
// lifetime left, or was signed with a longer lifetime than configured now. It returns how many it signed.
func (a *Authority) RefreshCRLs(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	for name, c := range a.crls {
		rec, err := a.db.LatestCRL(name)
		if err == nil {
			half := rec.ThisUpdate.Add(rec.NextUpdate.Sub(rec.ThisUpdate) / 2)
			// A shortened lifetime takes effect at once: relying parties
			// must not cache the old, longer one.
			longer := rec.NextUpdate.Sub(rec.ThisUpdate) > c.cfg.Lifetime
			if c.cfg.Now().Before(half) && !a.isStale(name) && !longer {
				continue
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		if _, err := a.SignCRL(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
