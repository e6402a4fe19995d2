package lint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"

	zx509 "github.com/zmap/zcrypto/x509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ThrowawayKey makes an in-memory key of the same type and size as pub.
func ThrowawayKey(pub crypto.PublicKey) (crypto.Signer, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.GenerateKey(k.Curve, rand.Reader)
	case *rsa.PublicKey:
		return rsa.GenerateKey(rand.Reader, k.N.BitLen())
	}
	return nil, fmt.Errorf("no throwaway key for %T", pub)
}

// Linted is a certificate body that passed the lints: the TBS bytes and the
// encoded signature AlgorithmIdentifier the issuer's key signs it with.
// The HSM signs exactly these bytes (see Assemble).
type Linted struct {
	TBS    []byte
	SigAlg []byte
}

// PreSign builds the certificate of tmpl for subjectPub as issued by
// parent and lints it, before anything is signed. It returns what the HSM
// must sign. parent must not be tmpl (self-signed certificates are a
// ceremony's business). privateTLS selects the lints of
// PrivateTLSCertificate instead of Certificate.
//
// The TBS is encoded by crypto/x509.CreateCertificate itself, for parent's
// own public key (so the signature algorithm is the one the HSM key
// signs with), but no signature is made: a signer that holds no key takes
// the TBS from CreateCertificate's call to sign it and stops it there.
// The lints run on that TBS with the signature algorithm and a placeholder
// signature value of the largest size a signature of parent's key can
// have (for ECDSA, r = s = n-1). No certificate lint reads the signature
// value except through its length (e_mp_ecdsa_signature_encoding_correct
// infers the curve from it: any real signature of the key falls in the same
// size class) and e_cert_issued_by_compromised_emudhra_ca, which is in
// Skipped; the real signature is checked by the caller against the CA
// certificate after the HSM signs (TestPlaceholderLintsLikeSigned checks
// that every lint gives the same result either way). This replaces signing
// with a throwaway key, which cost an ECDSA signature and crypto/x509's
// verification of it.
func (l *Linter) PreSign(tmpl, parent *x509.Certificate, subjectPub crypto.PublicKey, privateTLS bool) (Linted, error) {
	tbs, err := BuildTBS(tmpl, parent, subjectPub)
	if err != nil {
		return Linted{}, err
	}
	return l.LintTBS(tbs, parent.PublicKey, privateTLS)
}

// LintTBS lints the certificate made of tbs (as BuildTBS encodes it for
// the issuer key issuerPub), its signature algorithm and a placeholder
// signature, and returns what the HSM must sign.
func (l *Linter) LintTBS(tbs []byte, issuerPub crypto.PublicKey, privateTLS bool) (Linted, error) {
	alg, err := tbsSignatureAlgorithm(tbs)
	if err != nil {
		return Linted{}, err
	}
	placeholder, err := placeholderSignature(issuerPub)
	if err != nil {
		return Linted{}, err
	}
	linted := Linted{TBS: tbs, SigAlg: alg}
	der, err := encodeCertificate(linted, placeholder)
	if err != nil {
		return Linted{}, err
	}
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return Linted{}, fmt.Errorf("zlint cannot parse the certificate: %w", err)
	}
	set := l.certs
	if privateTLS {
		set = l.privateTLSCerts
	}
	if err := set.check(c); err != nil {
		return Linted{}, err
	}
	return linted, nil
}

// errTBSTaken stops crypto/x509.CreateCertificate once tbsTaker has the TBS.
var errTBSTaken = errors.New("TBS taken; nothing signed")

// tbsTaker is a crypto.MessageSigner with parent's public key and no
// private key: crypto/x509 hands it the encoded TBS to sign, and it keeps
// the bytes and refuses, so CreateCertificate ends without a signature.
type tbsTaker struct {
	pub crypto.PublicKey
	tbs []byte
}

func (t *tbsTaker) Public() crypto.PublicKey { return t.pub }

func (t *tbsTaker) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("lint: the TBS taker signs nothing")
}

func (t *tbsTaker) SignMessage(_ io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	t.tbs = msg
	return nil, errTBSTaken
}

// BuildTBS returns the DER TBSCertificate crypto/x509.CreateCertificate
// encodes for tmpl, subjectPub and parent when parent's key signs it,
// without any signature.
func BuildTBS(tmpl, parent *x509.Certificate, subjectPub crypto.PublicKey) ([]byte, error) {
	if parent == nil || parent == tmpl || parent.PublicKey == nil {
		return nil, errors.New("lint: the issuer's certificate, with its public key, is required")
	}
	taker := &tbsTaker{pub: parent.PublicKey}
	_, err := x509.CreateCertificate(rand.Reader, tmpl, parent, subjectPub, taker)
	if !errors.Is(err, errTBSTaken) || taker.tbs == nil {
		if err == nil {
			err = errors.New("crypto/x509 did not ask for a signature")
		}
		return nil, fmt.Errorf("build the certificate to lint: %w", err)
	}
	return taker.tbs, nil
}

// SignatureAlgorithm returns the encoded AlgorithmIdentifier that
// crypto/x509 writes in certificates signed by the issuer key pub.
func SignatureAlgorithm(pub crypto.PublicKey) ([]byte, error) {
	one := big.NewInt(1)
	tbs, err := BuildTBS(&x509.Certificate{SerialNumber: one}, &x509.Certificate{SerialNumber: one, PublicKey: pub}, pub)
	if err != nil {
		return nil, err
	}
	return tbsSignatureAlgorithm(tbs)
}

// tbsSignatureAlgorithm returns the encoded signature AlgorithmIdentifier
// inside a TBS; the certificate's outer one must be the same bytes.
func tbsSignatureAlgorithm(tbs []byte) ([]byte, error) {
	in := cryptobyte.String(tbs)
	var body, alg cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() ||
		!body.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!body.SkipASN1(cbasn1.INTEGER) || !body.ReadASN1Element(&alg, cbasn1.SEQUENCE) {
		return nil, errors.New("lint: malformed TBS: no signature algorithm")
	}
	return alg, nil
}

// placeholderSignature is a signature value of the largest size a
// signature by pub can have.
func placeholderSignature(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		max := new(big.Int).Sub(k.Curve.Params().N, big.NewInt(1))
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1BigInt(max)
			b.AddASN1BigInt(max)
		})
		return b.Bytes()
	case *rsa.PublicKey:
		return make([]byte, k.Size()), nil
	}
	return nil, fmt.Errorf("lint: no signature for an issuer key of type %T", pub)
}

// encodeCertificate is the DER Certificate of l's TBS and algorithm with
// signature value sig.
func encodeCertificate(l Linted, sig []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(l.TBS)
		b.AddBytes(l.SigAlg)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}

// Hash is the hash the issuer key pub signs certificates with, the one
// crypto/x509 names in the TBS for it.
func Hash(pub crypto.PublicKey) (crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return crypto.SHA256, nil
		case 384:
			return crypto.SHA384, nil
		default:
			return crypto.SHA512, nil
		}
	case *rsa.PublicKey:
		return crypto.SHA256, nil // crypto/x509's choice for RSA, so it matches SigAlg
	}
	return 0, fmt.Errorf("no signature hash for %T", pub)
}

// Assemble signs the linted TBS with signer (the HSM key, the issuer's)
// and encodes the certificate. The caller verifies the result against the
// issuer.
func (l Linted) Assemble(signer crypto.Signer) ([]byte, error) {
	h, err := Hash(signer.Public())
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(l.TBS)
	sig, err := signer.Sign(rand.Reader, d.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("HSM signature: %w", err)
	}
	return encodeCertificate(l, sig)
}
