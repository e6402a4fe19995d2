package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/store"
)

// ErrMismatch means the HSM produced something other than what was linted.
var ErrMismatch = errors.New("the HSM-signed certificate differs from the linted one")

// IssuerConfig wires an Issuer.
type IssuerConfig struct {
	Name        string            // CA name in URLs and records: issuing, admin
	Certificate *x509.Certificate // the CA's certificate
	Signer      crypto.Signer     // the CA key in the HSM
	Random      io.Reader         // the HSM RNG, for serials
	DB          *store.DB
	Linter      *lint.Linter
	BaseURL     string // e.g. http://127.0.0.1:8080: CRL DP, OCSP and caIssuers hang off it
	Profiles    map[Profile]ProfileConfig
	Logger      *slog.Logger
	Now         func() time.Time
}

// Issuer issues certificates under one CA.
type Issuer struct {
	cfg       IssuerConfig
	throwaway crypto.Signer
	log       *slog.Logger
}

// NewIssuer checks the configuration: the signer must hold the CA
// certificate's key, and every profile needs a positive validity.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	if cfg.Name == "" || cfg.Certificate == nil || cfg.Signer == nil || cfg.Random == nil || cfg.DB == nil || cfg.Linter == nil {
		return nil, errors.New("issuer: name, certificate, signer, random, DB and linter are all required")
	}
	eq, ok := cfg.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(cfg.Certificate.PublicKey) {
		return nil, fmt.Errorf("issuer %s: the HSM key does not match the CA certificate", cfg.Name)
	}
	for p, pc := range cfg.Profiles {
		if pc.Validity <= 0 {
			return nil, fmt.Errorf("issuer %s: profile %s has no validity", cfg.Name, p)
		}
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
	return &Issuer{cfg: cfg, throwaway: throwaway, log: cfg.Logger.With("ca", cfg.Name)}, nil
}

// Name is the CA's name.
func (is *Issuer) Name() string { return is.cfg.Name }

// Certificate is the CA's certificate.
func (is *Issuer) Certificate() *x509.Certificate { return is.cfg.Certificate }

// Issue runs the issuance path for req and returns the stored certificate.
func (is *Issuer) Issue(ctx context.Context, req Request) (*x509.Certificate, error) {
	pc, ok := is.cfg.Profiles[req.Profile]
	if !ok {
		return nil, badRequest("CA %s does not issue %q certificates", is.cfg.Name, req.Profile)
	}
	if req.Requester == "" {
		return nil, badRequest("the requester is missing")
	}
	tmpl, err := req.template(pc)
	if err != nil {
		return nil, err
	}
	tmpl.PublicKey = req.PublicKey
	if err := is.complete(tmpl, pc); err != nil {
		return nil, err
	}
	rec := store.CertRecord{
		CA: is.cfg.Name, Profile: string(req.Profile), Requester: req.Requester,
		NotAfter: tmpl.NotAfter, Created: is.cfg.Now().UTC(),
	}
	linted, err := is.lintAndRecord(&rec, tmpl, req.PublicKey)
	if err != nil {
		return nil, err
	}
	crashPoint("after-intent")
	cert, err := is.sign(linted)
	crashPoint("after-sign")
	if err != nil {
		if aerr := is.cfg.DB.AbandonIntent(rec.Serial, err.Error()); aerr != nil {
			is.log.Error("could not close a failed issuance intent; start-up reconciliation will", "serial", rec.Serial, "error", aerr)
		}
		return nil, err
	}
	if err := is.cfg.DB.CompleteIssuance(rec.Serial, rec.TBSHash, cert.Raw, is.cfg.Now()); err != nil {
		return nil, fmt.Errorf("store certificate %s: %w", rec.Serial, err)
	}
	is.log.InfoContext(ctx, "certificate issued", "serial", rec.Serial, "profile", req.Profile, "requester", req.Requester)
	return cert, nil
}

// lintAndRecord lints tmpl and records the issuance intent with the hash of
// the linted TBS. If the serial was used before (astronomically unlikely,
// but the store checks), it draws another and lints again, as the TBS
// contains the serial.
func (is *Issuer) lintAndRecord(rec *store.CertRecord, tmpl *x509.Certificate, pub crypto.PublicKey) (lint.Linted, error) {
	profile := Profile(rec.Profile)
	for attempt := 1; ; attempt++ {
		linted, err := is.cfg.Linter.PreSign(tmpl, is.cfg.Certificate, pub, is.throwaway, profile == ProfileTLS)
		if err != nil {
			return lint.Linted{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		h := sha256.Sum256(linted.TBS)
		rec.Serial, rec.TBSHash = SerialHex(tmpl.SerialNumber), h[:]
		err = is.cfg.DB.RecordIntent(*rec)
		if err == nil {
			return linted, nil
		}
		if !errors.Is(err, store.ErrSerialExists) || attempt == 3 {
			return lint.Linted{}, fmt.Errorf("record issuance intent: %w", err)
		}
		if tmpl.SerialNumber, err = RandomSerial(is.cfg.Random); err != nil {
			return lint.Linted{}, err
		}
	}
}

// complete fills in what depends on the CA: serial, validity, URLs, policies.
func (is *Issuer) complete(tmpl *x509.Certificate, pc ProfileConfig) error {
	serial, err := RandomSerial(is.cfg.Random)
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial
	if tmpl.SubjectKeyId, err = SubjectKeyID(tmpl.PublicKey); err != nil {
		return err
	}
	now := is.cfg.Now().UTC().Truncate(time.Second)
	tmpl.NotBefore = now
	tmpl.NotAfter = now.Add(pc.Validity - time.Second)
	if tmpl.NotAfter.After(is.cfg.Certificate.NotAfter) {
		return fmt.Errorf("CA %s expires on %s, before the certificate would: renew the CA", is.cfg.Name, is.cfg.Certificate.NotAfter.Format(time.RFC3339))
	}
	base := strings.TrimRight(is.cfg.BaseURL, "/")
	if base != "" {
		tmpl.CRLDistributionPoints = []string{base + "/crl/" + is.cfg.Name + ".crl"}
		tmpl.OCSPServer = []string{base + "/ocsp"}
		tmpl.IssuingCertificateURL = []string{base + "/certs/" + is.cfg.Name + ".der"}
	}
	if len(pc.PolicyOID) > 0 {
		ext, err := PoliciesExtension([]asn1.ObjectIdentifier{pc.PolicyOID}, pc.CPSURI)
		if err != nil {
			return err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	return nil
}

// sign has the HSM sign exactly the linted TBS (no second template
// encoding) and checks the certificate: it parses, its TBS is the linted
// one, and the signature verifies with the CA certificate's key.
func (is *Issuer) sign(linted lint.Linted) (*x509.Certificate, error) {
	der, err := linted.Assemble(is.cfg.Signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the signed certificate: %w", err)
	}
	if !bytes.Equal(cert.RawTBSCertificate, linted.TBS) {
		return nil, ErrMismatch
	}
	if err := cert.CheckSignatureFrom(is.cfg.Certificate); err != nil {
		return nil, fmt.Errorf("the HSM's signature does not verify: %w", err)
	}
	return cert, nil
}

// RandomSerial draws a positive serial of 128 bits (at least 65 significant)
// from r, the HSM RNG.
func RandomSerial(r io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("draw serial from the HSM RNG: %w", err)
		}
		b[0] &= 0x7f
		if n := new(big.Int).SetBytes(b); n.BitLen() > 64 {
			return n, nil
		}
	}
}

// SerialHex formats a serial as the store keys it.
func SerialHex(n *big.Int) string { return n.Text(16) }

// ParseSerial reads a hex serial as typed by an officer.
func ParseSerial(s string) (*big.Int, error) {
	s = strings.TrimPrefix(strings.ToLower(strings.ReplaceAll(s, ":", "")), "0x")
	if _, err := hex.DecodeString(strings.Repeat("0", len(s)%2) + s); err != nil || s == "" {
		return nil, fmt.Errorf("%q is not a hexadecimal serial", s)
	}
	n, _ := new(big.Int).SetString(s, 16)
	if n.Sign() <= 0 {
		return nil, fmt.Errorf("serial %q is not positive", s)
	}
	return n, nil
}

var (
	oidCertificatePolicies = asn1.ObjectIdentifier{2, 5, 29, 32}
	oidQualifierCPS        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 2, 1}
)

type policyQualifier struct {
	ID        asn1.ObjectIdentifier
	Qualifier string `asn1:"ia5"`
}

type policyInformation struct {
	Policy     asn1.ObjectIdentifier
	Qualifiers []policyQualifier `asn1:"optional,omitempty"`
}

// PoliciesExtension builds certificatePolicies with an optional CPS URI
// qualifier on each policy (crypto/x509 cannot write qualifiers).
func PoliciesExtension(policies []asn1.ObjectIdentifier, cps string) (pkix.Extension, error) {
	infos := make([]policyInformation, 0, len(policies))
	for _, p := range policies {
		info := policyInformation{Policy: p}
		if cps != "" {
			info.Qualifiers = []policyQualifier{{ID: oidQualifierCPS, Qualifier: cps}}
		}
		infos = append(infos, info)
	}
	v, err := asn1.Marshal(infos)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encode certificatePolicies: %w", err)
	}
	return pkix.Extension{Id: oidCertificatePolicies, Value: v}, nil
}

// SubjectKeyID is RFC 5280 method 1: SHA-1 of the subjectPublicKey bits.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("decode public key: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}
