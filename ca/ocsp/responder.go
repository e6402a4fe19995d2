package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// defaultLifetime is nextUpdate - thisUpdate when Config.Lifetime is 0.
const defaultLifetime = 24 * time.Hour

// CertStatus is what the CA knows of one serial.
type CertStatus struct {
	Status    int       // ocsp.Good, ocsp.Revoked or ocsp.Unknown (golang.org/x/crypto/ocsp constants)
	RevokedAt time.Time // when revoked
	Reason    int       // RFC 5280 reason code when revoked
}

// StatusFunc looks up a serial issued by CA name ca. An unknown serial is
// CertStatus{Status: ocsp.Unknown}, not an error.
type StatusFunc func(ctx context.Context, ca string, serial *big.Int) (CertStatus, error)

// Signer is one CA served by the responder with its delegated responder
// certificate.
type Signer struct {
	CA        string            // "issuing", "admin"
	Issuer    *x509.Certificate // the CA certificate
	Responder *x509.Certificate // delegated responder cert (id-kp-OCSPSigning + ocsp-nocheck), issued by Issuer
	Key       crypto.Signer     // the responder's key (in the HSM)
}

// Cache persists pre-signed responses. store.DB implements it (store/ocsp.go).
// serial is the lower-case hex serial for SHA-1 CertIDs and hex + "/sha256"
// for SHA-256 ones. If the Cache also has DeleteOCSP(ca, serial string)
// error, dropping serial and all its "serial/..." variants, Invalidate
// uses it; otherwise Invalidate relies on the fresh responses overwriting
// the stored ones.
type Cache interface {
	GetOCSP(ca, serial string) (der []byte, nextUpdate time.Time, ok bool, err error)
	// PutOCSP stores a response; revoked says whether it answers revoked.
	PutOCSP(ca, serial string, der []byte, revoked bool, thisUpdate, nextUpdate time.Time) error
}

// Config wires a Responder.
type Config struct {
	Signers    []Signer
	Status     StatusFunc
	Cache      Cache                 // may be nil: memory only
	Lifetime   time.Duration         // nextUpdate - thisUpdate; 0: 24h
	Registerer prometheus.Registerer // may be nil
	Logger     *slog.Logger
	Now        func() time.Time
}

// Responder answers OCSP requests for the configured CAs. It is safe for
// concurrent use.
type Responder struct {
	cfg     Config
	signers []*served
	byCA    map[string]*served
	log     *slog.Logger
	m       *metrics
	mem     *memCache
	// live bounds the HSM signatures made for single requests (nonces,
	// unknown serials) so that a flood cannot take the HSM from issuance.
	live chan struct{}
}

// maxLiveSignings bounds concurrent per-request OCSP signatures.
const maxLiveSignings = 16

func (r *Responder) acquireLive() bool {
	select {
	case r.live <- struct{}{}:
		return true
	default:
		return false
	}
}

func (r *Responder) releaseLive() { <-r.live }

// served is a Signer with what signing and matching need precomputed.
type served struct {
	Signer
	ids         map[crypto.Hash]issuerHashes
	responderID asn1.RawValue
	sigHash     crypto.Hash
	sigAlg      pkix.AlgorithmIdentifier
	sigX509     x509.SignatureAlgorithm
}

type issuerHashes struct{ name, key []byte }

var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// New checks each responder certificate (issued by its Issuer, with
// id-kp-OCSPSigning, holding Key's public key, within its validity) and
// returns the Responder.
func New(cfg Config) (*Responder, error) {
	if len(cfg.Signers) == 0 || cfg.Status == nil {
		return nil, errors.New("OCSP responder: at least one signer and a status function are required")
	}
	if cfg.Lifetime < 0 {
		return nil, fmt.Errorf("OCSP responder: negative lifetime %v", cfg.Lifetime)
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = defaultLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Responder{cfg: cfg, byCA: make(map[string]*served), log: cfg.Logger, mem: newMemCache(), live: make(chan struct{}, maxLiveSignings)}
	now := cfg.Now()
	for _, sg := range cfg.Signers {
		s, err := prepare(sg, now)
		if err != nil {
			return nil, err
		}
		if r.byCA[sg.CA] != nil {
			return nil, fmt.Errorf("OCSP responder: CA %q configured twice", sg.CA)
		}
		if !slices.ContainsFunc(sg.Responder.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidOCSPNoCheck) }) {
			r.log.Warn("OCSP responder certificate lacks ocsp-nocheck: clients may try to check its revocation", "ca", sg.CA)
		}
		r.signers = append(r.signers, s)
		r.byCA[sg.CA] = s
	}
	var err error
	if r.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	return r, nil
}

// prepare checks one Signer and precomputes its CertID hashes, ResponderID
// and signature algorithm.
func prepare(sg Signer, now time.Time) (*served, error) {
	if sg.CA == "" || sg.Issuer == nil || sg.Responder == nil || sg.Key == nil {
		return nil, errors.New("OCSP responder: each signer needs a CA name, issuer, responder certificate and key")
	}
	rc := sg.Responder
	fail := func(format string, args ...any) error {
		return fmt.Errorf("OCSP responder of %s (%s): %s", sg.CA, rc.Subject, fmt.Sprintf(format, args...))
	}
	if !bytes.Equal(rc.RawIssuer, sg.Issuer.RawSubject) {
		return nil, fail("issued by %s, not by the CA %s", rc.Issuer, sg.Issuer.Subject)
	}
	if err := rc.CheckSignatureFrom(sg.Issuer); err != nil {
		return nil, fail("not signed by the CA certificate: %v", err)
	}
	if !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return nil, fail("no id-kp-OCSPSigning extended key usage")
	}
	if rc.KeyUsage != 0 && rc.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fail("key usage lacks digitalSignature")
	}
	eq, ok := sg.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(rc.PublicKey) {
		return nil, fail("the key does not match the certificate")
	}
	if now.Before(rc.NotBefore) || !now.Before(rc.NotAfter) {
		return nil, fail("outside its validity %s to %s", rc.NotBefore.Format(time.RFC3339), rc.NotAfter.Format(time.RFC3339))
	}
	s := &served{Signer: sg, ids: make(map[crypto.Hash]issuerHashes)}
	var err error
	if s.sigHash, s.sigAlg, s.sigX509, err = sigParams(rc.PublicKey); err != nil {
		return nil, fail("%v", err)
	}
	issuerKey, err := subjectPublicKey(sg.Issuer)
	if err != nil {
		return nil, err
	}
	for h := range certIDAlgorithms {
		name, key := h.New(), h.New()
		name.Write(sg.Issuer.RawSubject)
		key.Write(issuerKey)
		s.ids[h] = issuerHashes{name: name.Sum(nil), key: key.Sum(nil)}
	}
	responderKey, err := subjectPublicKey(rc)
	if err != nil {
		return nil, err
	}
	keyHash := sha1.Sum(responderKey)
	inner, err := asn1.Marshal(keyHash[:])
	if err != nil {
		return nil, err
	}
	s.responderID = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: inner}
	return s, nil
}

// subjectPublicKey is the BIT STRING value of a certificate's public key,
// as CertID and ResponderID hash it.
func subjectPublicKey(c *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, fmt.Errorf("read the public key of %s: %w", c.Subject, err)
	}
	return spki.PublicKey.RightAlign(), nil
}

// find returns the CA the request's CertID names, or nil.
func (r *Responder) find(req *request) *served {
	for _, s := range r.signers {
		if ids, ok := s.ids[req.hash]; ok && bytes.Equal(ids.name, req.nameHash) && bytes.Equal(ids.key, req.keyHash) {
			return s
		}
	}
	return nil
}

// lookup asks the StatusFunc and checks its answer.
func (r *Responder) lookup(ctx context.Context, s *served, serial *big.Int) (CertStatus, error) {
	st, err := r.cfg.Status(ctx, s.CA, new(big.Int).Set(serial))
	if err != nil {
		return CertStatus{}, fmt.Errorf("status of %s serial %x: %w", s.CA, serial, err)
	}
	if _, err := certStatus(st); err != nil {
		return CertStatus{}, fmt.Errorf("status of %s serial %x: %w", s.CA, serial, err)
	}
	return st, nil
}

// signTimed signs and records the signing duration.
func (r *Responder) signTimed(s *served, hash crypto.Hash, serial *big.Int, st CertStatus, ext *pkix.Extension) (signed, error) {
	start := time.Now()
	out, err := s.sign(hash, serial, st, r.cfg.Now(), r.cfg.Lifetime, ext)
	r.m.signing.Observe(time.Since(start).Seconds())
	return out, err
}
