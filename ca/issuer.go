package ca

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
	Random      io.Reader         // the HSM RNG, for serials (read 4 KiB at a time)
	DB          *store.DB
	Linter      *lint.Linter
	BaseURL     string // e.g. http://127.0.0.1:8080: CRL DP, OCSP and caIssuers hang off it
	Profiles    map[Profile]ProfileConfig
	Logger      *slog.Logger
	Now         func() time.Time
}

// Issuer issues certificates under one CA.
type Issuer struct {
	cfg IssuerConfig
	log *slog.Logger
	// Per-CA constants, worked out once: the URLs every certificate
	// carries, each profile's certificatePolicies extension, the TBS
	// encoder with the CA's name, key identifier and signature algorithm.
	crlDP, ocsp, caIssuers []string
	policies               map[Profile]pkix.Extension
	tbs                    *tbsEncoder
	cpu                    chan struct{} // see cpuBound
	// split sums the time of each phase of the issuances that succeeded.
	split struct {
		ns     [numPhases]atomic.Int64
		issued atomic.Int64
	}
}

// The phases of an issuance, as Split reports them.
const (
	phaseTemplate = iota // request checks, template, serial from the HSM RNG, SKI
	phaseBuild           // TBS encoding
	phaseLint            // zcrypto parse and zlint
	phaseIntent          // intent record, until its commit is on disk
	phaseHSM             // HSM signature
	phaseCheck           // parse, TBS comparison, signature verification
	phaseStore           // certificate record, until its commit is on disk
	numPhases
)

var phaseNames = [numPhases]string{"template", "build", "lint", "intent", "hsm", "check", "store"}

// phaseClock times the phases of one issuance.
type phaseClock struct {
	last time.Time
	ns   [numPhases]int64
}

func (c *phaseClock) mark(phase int) {
	now := time.Now()
	c.ns[phase] += int64(now.Sub(c.last))
	c.last = now
}

// Split returns the mean wall time of each phase of the issuances since
// the Issuer started (or since the last ResetSplit), and their number.
// Under concurrent load a phase's time includes its waits (for a commit
// to gather, for an HSM session).
func (is *Issuer) Split() (map[string]time.Duration, int64) {
	n := is.split.issued.Load()
	out := make(map[string]time.Duration, numPhases)
	for i, name := range phaseNames {
		if n > 0 {
			out[name] = time.Duration(is.split.ns[i].Load() / n)
		}
	}
	return out, n
}

// ResetSplit starts the sums of Split again.
func (is *Issuer) ResetSplit() {
	for i := range is.split.ns {
		is.split.ns[i].Store(0)
	}
	is.split.issued.Store(0)
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
	cfg.Random = &bufferedRandom{r: bufio.NewReaderSize(cfg.Random, 4096)}
	if _, err := lint.Hash(cfg.Signer.Public()); err != nil {
		return nil, fmt.Errorf("issuer %s: %w", cfg.Name, err)
	}
	is := &Issuer{cfg: cfg, log: cfg.Logger.With("ca", cfg.Name), policies: map[Profile]pkix.Extension{},
		cpu: make(chan struct{}, runtime.GOMAXPROCS(0))}
	var err error
	if is.tbs, err = newTBSEncoder(cfg.Certificate); err != nil {
		return nil, fmt.Errorf("issuer %s: %w", cfg.Name, err)
	}
	if base := strings.TrimRight(cfg.BaseURL, "/"); base != "" {
		is.crlDP = []string{base + "/crl/" + cfg.Name + ".crl"}
		is.ocsp = []string{base + "/ocsp"}
		is.caIssuers = []string{base + "/certs/" + cfg.Name + ".der"}
	}
	for p, pc := range cfg.Profiles {
		if len(pc.PolicyOID) > 0 {
			ext, err := PoliciesExtension([]asn1.ObjectIdentifier{pc.PolicyOID}, pc.CPSURI)
			if err != nil {
				return nil, fmt.Errorf("issuer %s, profile %s: %w", cfg.Name, p, err)
			}
			is.policies[p] = ext
		}
	}
	if err := is.checkTBSEncoder(); err != nil {
		return nil, fmt.Errorf("issuer %s: %w", cfg.Name, err)
	}
	return is, nil
}

// checkTBSEncoder encodes a sample certificate of each profile both with
// the direct encoder and with crypto/x509, and refuses to go on if they
// differ by a byte (a toolchain whose crypto/x509 encodes differently).
func (is *Issuer) checkTBSEncoder() error {
	samples := map[Profile]Request{
		ProfileIndividual: {Name: "BUDI SANTOSO", GivenName: "BUDI", Surname: "SANTOSO", SubscriberID: "SUB-0001", Email: "budi@example.co.id"},
		ProfileOfficer:    {Name: "Siti Officer", Email: "siti@example.co.id"},
		ProfileTLS:        {DNSNames: []string{"console.example.co.id", "localhost"}},
	}
	pub := is.cfg.Certificate.PublicKey
	for p, pc := range is.cfg.Profiles {
		req, ok := samples[p]
		if !ok {
			continue
		}
		req.Profile, req.PublicKey = p, pub
		tmpl, err := req.template(pc)
		if err != nil {
			return fmt.Errorf("sample %s certificate: %w", p, err)
		}
		spki, ski, err := spkiAndKeyID(pub)
		if err != nil {
			return err
		}
		is.fill(tmpl, p, pc, new(big.Int).Lsh(big.NewInt(1), 100), ski, is.cfg.Now())
		want, err := lint.BuildTBS(tmpl, is.cfg.Certificate, pub)
		if err != nil {
			return fmt.Errorf("sample %s certificate: %w", p, err)
		}
		got, err := is.tbs.encode(tmpl, spki)
		if err != nil || !bytes.Equal(got, want) {
			return fmt.Errorf("the direct TBS encoder disagrees with crypto/x509 on a %s certificate (%v)", p, err)
		}
	}
	return nil
}

// Name is the CA's name.
func (is *Issuer) Name() string { return is.cfg.Name }

// Certificate is the CA's certificate.
func (is *Issuer) Certificate() *x509.Certificate { return is.cfg.Certificate }

// Issue runs the issuance path for req and returns the stored certificate.
func (is *Issuer) Issue(ctx context.Context, req Request) (*x509.Certificate, error) {
	clock := phaseClock{last: time.Now()}
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
	spki, ski, err := spkiAndKeyID(req.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := is.complete(tmpl, req.Profile, pc, ski); err != nil {
		return nil, err
	}
	rec := store.CertRecord{
		CA: is.cfg.Name, Profile: string(req.Profile), Requester: req.Requester,
		NotAfter: tmpl.NotAfter, Created: is.cfg.Now().UTC(),
	}
	clock.mark(phaseTemplate)
	linted, err := is.lintAndRecord(&rec, tmpl, spki, &clock)
	if err != nil {
		return nil, err
	}
	crashPoint("after-intent")
	cert, err := is.sign(linted, &clock)
	crashPoint("after-sign")
	if err != nil {
		if aerr := is.cfg.DB.AbandonIntent(rec.Serial, err.Error()); aerr != nil {
			is.log.Error("could not close a failed issuance intent; start-up reconciliation will", "serial", rec.Serial, "error", aerr)
		}
		return nil, err
	}
	if err := is.cfg.DB.CompleteIntent(rec, cert.Raw, is.cfg.Now()); err != nil {
		return nil, fmt.Errorf("store certificate %s: %w", rec.Serial, err)
	}
	clock.mark(phaseStore)
	for i, ns := range clock.ns {
		is.split.ns[i].Add(ns)
	}
	is.split.issued.Add(1)
	is.log.InfoContext(ctx, "certificate issued", "serial", rec.Serial, "profile", req.Profile, "requester", req.Requester)
	return cert, nil
}

// lintAndRecord lints tmpl and records the issuance intent with the hash of
// the linted TBS. If the serial was used before (astronomically unlikely,
// but the store checks), it draws another and lints again, as the TBS
// contains the serial.
func (is *Issuer) lintAndRecord(rec *store.CertRecord, tmpl *x509.Certificate, spki []byte, clock *phaseClock) (lint.Linted, error) {
	privateTLS := Profile(rec.Profile) == ProfileTLS
	for attempt := 1; ; attempt++ {
		var linted lint.Linted
		err := is.cpuBound(func() error {
			tbs, err := is.tbs.encode(tmpl, spki)
			if err != nil {
				return err
			}
			clock.mark(phaseBuild)
			linted, err = is.cfg.Linter.LintTBS(tbs, is.cfg.Certificate.PublicKey, privateTLS)
			clock.mark(phaseLint)
			return err
		})
		if err != nil {
			return lint.Linted{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		h := sha256.Sum256(linted.TBS)
		rec.Serial, rec.TBSHash = SerialHex(tmpl.SerialNumber), h[:]
		err = is.cfg.DB.RecordIntent(*rec)
		clock.mark(phaseIntent)
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

// complete fills in what depends on the CA: serial (from the HSM RNG),
// validity, URLs, policies; ski is the subject key's identifier.
func (is *Issuer) complete(tmpl *x509.Certificate, profile Profile, pc ProfileConfig, ski []byte) error {
	serial, err := RandomSerial(is.cfg.Random)
	if err != nil {
		return err
	}
	is.fill(tmpl, profile, pc, serial, ski, is.cfg.Now())
	if tmpl.NotAfter.After(is.cfg.Certificate.NotAfter) {
		return fmt.Errorf("CA %s expires on %s, before the certificate would: renew the CA", is.cfg.Name, is.cfg.Certificate.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// fill sets the CA-dependent fields of tmpl.
func (is *Issuer) fill(tmpl *x509.Certificate, profile Profile, pc ProfileConfig, serial *big.Int, ski []byte, now time.Time) {
	tmpl.SerialNumber, tmpl.SubjectKeyId = serial, ski
	now = now.UTC().Truncate(time.Second)
	tmpl.NotBefore = now
	tmpl.NotAfter = now.Add(pc.Validity - time.Second)
	tmpl.CRLDistributionPoints, tmpl.OCSPServer, tmpl.IssuingCertificateURL = is.crlDP, is.ocsp, is.caIssuers
	if ext, ok := is.policies[profile]; ok {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
}

// sign has the HSM sign exactly the linted TBS (no second template
// encoding) and checks the certificate: it parses, its TBS is the linted
// one, and the signature verifies with the CA certificate's key.
func (is *Issuer) sign(linted lint.Linted, clock *phaseClock) (*x509.Certificate, error) {
	der, err := linted.Assemble(is.cfg.Signer)
	if err != nil {
		return nil, err
	}
	clock.mark(phaseHSM)
	var cert *x509.Certificate
	err = is.cpuBound(func() error {
		var err error
		if cert, err = x509.ParseCertificate(der); err != nil {
			return fmt.Errorf("parse the signed certificate: %w", err)
		}
		if !bytes.Equal(cert.RawTBSCertificate, linted.TBS) {
			return ErrMismatch
		}
		if err := cert.CheckSignatureFrom(is.cfg.Certificate); err != nil {
			return fmt.Errorf("the HSM's signature does not verify: %w", err)
		}
		return nil
	})
	clock.mark(phaseCheck)
	if err != nil {
		return nil, err
	}
	return cert, nil
}

// cpuBound runs f, a stretch of pure CPU work (encoding, linting,
// verifying), once one of GOMAXPROCS slots is free. Without the bound, 32
// requesters kept every P busy and the goroutine that commits for all of
// them, which needs a P again after each write and fdatasync, queued
// behind them: a shared commit took 6 ms instead of 3, and every requester
// waits for two of them (BenchmarkIssuance, 32 requesters: ~1,000 ->
// ~1,700 certificates/s). The HSM call is outside the bound: a network HSM
// wants many calls in flight.
func (is *Issuer) cpuBound(f func() error) error {
	is.cpu <- struct{}{}
	defer func() { <-is.cpu }()
	return f()
}

// bufferedRandom reads the HSM RNG 4 KiB at a time (256 serials) and
// hands out each byte once, under a lock: drawing 16 bytes per certificate
// was a PKCS#11 round trip (session, C_GenerateRandom) per certificate.
// The bytes are still the HSM's; only unused ones wait in memory, and a
// serial is public as soon as its certificate is.
type bufferedRandom struct {
	mu sync.Mutex
	r  *bufio.Reader
}

func (b *bufferedRandom) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return io.ReadFull(b.r, p)
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
	_, id, err := spkiAndKeyID(pub)
	return id, err
}
