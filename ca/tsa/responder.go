package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config wires a Responder.
type Config struct {
	Signer      crypto.Signer       // the TSA key, in the HSM
	Certificate *x509.Certificate   // its certificate: id-kp-timeStamping alone, critical
	Chain       []*x509.Certificate // optional: CA certificates added after it when certReq is set
	Policy      asn1.ObjectIdentifier
	// Accuracy is how far genTime may be from UTC: the clock's own error
	// plus up to a second, as genTime is truncated to whole seconds. At
	// least one second; 0 means one second.
	Accuracy   time.Duration
	Now        func() time.Time // nil: time.Now
	Random     io.Reader        // token serials; the HSM's RNG. nil: crypto/rand
	Logger     *slog.Logger     // nil: slog.Default()
	Registerer prometheus.Registerer
	// OnIssued, if set, is called for every token before it is returned,
	// so the caller can record the serial. Calls may be concurrent.
	OnIssued func(serial *big.Int, genTime time.Time, digest []byte)
}

// Responder issues time-stamp tokens. It is safe for concurrent use.
type Responder struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	hash crypto.Hash // of the signed attributes and the TSTInfo
	// Precomputed parts of every token.
	digestAlg, sigAlg pkix.AlgorithmIdentifier
	x509Alg           x509.SignatureAlgorithm
	tsaName           asn1.RawValue // TSTInfo tsa: [0] { [4] subject }
	sid               issuerAndSerial
	essAttr           []byte // the signing-certificate-v2 attribute
	certs             asn1.RawValue
}

// ErrConfig is wrapped by every error of New.
var ErrConfig = errors.New("tsa: invalid configuration")

// New checks cfg and builds a Responder.
func New(cfg Config) (*Responder, error) {
	if cfg.Signer == nil || cfg.Certificate == nil {
		return nil, fmt.Errorf("%w: a signer and its certificate are required", ErrConfig)
	}
	if _, err := asn1.Marshal(cfg.Policy); err != nil || len(cfg.Policy) < 2 {
		return nil, fmt.Errorf("%w: policy %q is not an OID", ErrConfig, cfg.Policy)
	}
	switch {
	case cfg.Accuracy == 0:
		cfg.Accuracy = time.Second
	case cfg.Accuracy < time.Second:
		return nil, fmt.Errorf("%w: accuracy %s is under a second, but genTime has whole seconds", ErrConfig, cfg.Accuracy)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	r := &Responder{cfg: cfg, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	if err := r.checkCertificate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := r.precompute(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r.m = m
	return r, nil
}

// checkCertificate wants the signer's certificate with the RFC 3161 2.3
// profile, and picks the signature algorithm for the key.
func (r *Responder) checkCertificate() error {
	c := r.cfg.Certificate
	if pub, ok := r.cfg.Signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(c.PublicKey) {
		return errors.New("the certificate is not for the signer's key")
	}
	critical := false
	for _, e := range c.Extensions {
		critical = critical || (e.Id.Equal(oidExtKeyUsage) && e.Critical)
	}
	if !critical || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}) || len(c.UnknownExtKeyUsage) > 0 {
		return errors.New("the certificate needs a critical extendedKeyUsage of id-kp-timeStamping alone (RFC 3161 2.3)")
	}
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return errors.New("the certificate's keyUsage allows no signatures")
	}
	if slices.Contains(r.cfg.Chain, nil) {
		return errors.New("a nil certificate in the chain")
	}
	switch pub := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			r.hash, r.x509Alg, r.sigAlg.Algorithm = crypto.SHA256, x509.ECDSAWithSHA256, oidECDSAWithSHA256
		case elliptic.P384():
			r.hash, r.x509Alg, r.sigAlg.Algorithm = crypto.SHA384, x509.ECDSAWithSHA384, oidECDSAWithSHA384
		case elliptic.P521():
			r.hash, r.x509Alg, r.sigAlg.Algorithm = crypto.SHA512, x509.ECDSAWithSHA512, oidECDSAWithSHA512
		default:
			return errors.New("unsupported ECDSA curve")
		}
	case *rsa.PublicKey:
		r.hash, r.x509Alg = crypto.SHA256, x509.SHA256WithRSA
		r.sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}
	default:
		return fmt.Errorf("unsupported key type %T", c.PublicKey)
	}
	r.digestAlg = pkix.AlgorithmIdentifier{Algorithm: hashOID(r.hash)}
	return nil
}

// precompute encodes the parts every token shares.
func (r *Responder) precompute() error {
	c := r.cfg.Certificate
	dirName, err := wrap(2, 4, c.RawSubject)
	if err != nil {
		return err
	}
	name, err := wrap(2, 0, dirName)
	if err != nil {
		return err
	}
	r.tsaName = asn1.RawValue{FullBytes: name}
	r.sid = issuerAndSerial{Issuer: asn1.RawValue{FullBytes: c.RawIssuer}, Serial: c.SerialNumber}
	issuerName, err := wrap(2, 4, c.RawIssuer)
	if err != nil {
		return err
	}
	generalNames, err := wrap(0, asn1.TagSequence, issuerName)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(c.Raw)
	ess, err := asn1.Marshal(signingCertificateV2{Certs: []essCertIDv2{{CertHash: sum[:],
		IssuerSerial: issuerSerial{Issuer: asn1.RawValue{FullBytes: generalNames}, Serial: c.SerialNumber}}}})
	if err != nil {
		return fmt.Errorf("encode signing-certificate-v2: %w", err)
	}
	if r.essAttr, err = encodeAttribute(oidSigningCertV2, ess); err != nil {
		return err
	}
	var all bytes.Buffer
	for _, cert := range append([]*x509.Certificate{c}, r.cfg.Chain...) {
		all.Write(cert.Raw)
	}
	certs, err := wrap(2, 0, all.Bytes())
	r.certs = asn1.RawValue{FullBytes: certs}
	return err
}

// Certificate is the TSA certificate.
func (r *Responder) Certificate() *x509.Certificate { return r.cfg.Certificate }

// Errors of Timestamp for an imprint this TSA does not take.
var (
	ErrHash   = errors.New("tsa: hash algorithm not accepted: use SHA-256, SHA-384 or SHA-512")
	ErrDigest = errors.New("tsa: the digest's length does not match its hash algorithm")
)

// Timestamp returns a DER TimeStampToken (a CMS ContentInfo) over digest,
// computed with hash, carrying nonce if not nil and the TSA certificate
// and chain. The PDF signer puts it in the signer's unsigned attribute
// id-aa-signatureTimeStampToken (PAdES B-T), digest being the hash of the
// signature value.
func (r *Responder) Timestamp(ctx context.Context, digest []byte, hash crypto.Hash, nonce *big.Int) ([]byte, error) {
	if hashOID(hash) == nil {
		return nil, fmt.Errorf("%w (got %s)", ErrHash, hash)
	}
	if len(digest) != hash.Size() {
		return nil, fmt.Errorf("%w: %d bytes for %s", ErrDigest, len(digest), hash)
	}
	imprintAlg := pkix.AlgorithmIdentifier{Algorithm: hashOID(hash), Parameters: asn1.NullRawValue}
	token, err := r.issue(ctx, &request{alg: imprintAlg, hash: hash, digest: digest, nonce: nonce, certReq: true})
	if err != nil {
		r.m.responses.WithLabelValues(labelSystemFailure).Inc()
		return nil, err
	}
	r.m.responses.WithLabelValues(labelGranted).Inc()
	return token, nil
}

// Respond answers a DER TimeStampReq with a DER TimeStampResp: a token,
// or a rejection saying why.
func (r *Responder) Respond(ctx context.Context, der []byte) []byte {
	req, f := r.parseRequest(der)
	if f != nil {
		r.m.responses.WithLabelValues(f.label).Inc()
		return rejection(f)
	}
	token, err := r.issue(ctx, req)
	if err == nil {
		var resp []byte
		if resp, err = asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: statusGranted}, TimeStampToken: asn1.RawValue{FullBytes: token}}); err == nil {
			r.m.responses.WithLabelValues(labelGranted).Inc()
			return resp
		}
	}
	r.log.ErrorContext(ctx, "time-stamp token not issued", "error", err)
	r.m.responses.WithLabelValues(labelSystemFailure).Inc()
	return rejection(&failure{failSystemFailure, "the time-stamp could not be issued; try again later", labelSystemFailure})
}
