package lint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

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
// encoded signature AlgorithmIdentifier a key of the issuer's type signs
// it with. The HSM signs exactly these bytes (see Assemble).
type Linted struct {
	TBS    []byte
	SigAlg []byte
}

// PreSign signs tmpl for subjectPub with throwaway, a key of the issuer's
// type, as issued by parent, and lints the result. It returns what the HSM
// must sign. parent must not be tmpl (self-signed certificates are a
// ceremony's business). privateTLS selects PrivateTLSCertificate instead of
// Certificate.
func (l *Linter) PreSign(tmpl, parent *x509.Certificate, subjectPub crypto.PublicKey, throwaway crypto.Signer, privateTLS bool) (Linted, error) {
	p := *parent
	p.PublicKey = throwaway.Public()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, &p, subjectPub, throwaway)
	if err != nil {
		return Linted{}, fmt.Errorf("build the certificate to lint: %w", err)
	}
	check := l.Certificate
	if privateTLS {
		check = l.PrivateTLSCertificate
	}
	if err := check(der); err != nil {
		return Linted{}, err
	}
	return splitCertificate(der)
}

// splitCertificate returns the TBS and signatureAlgorithm of a DER
// certificate, as they are encoded.
func splitCertificate(der []byte) (Linted, error) {
	in := cryptobyte.String(der)
	var cert, tbs, alg cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !in.Empty() ||
		!cert.ReadASN1Element(&tbs, cbasn1.SEQUENCE) || !cert.ReadASN1Element(&alg, cbasn1.SEQUENCE) {
		return Linted{}, fmt.Errorf("the linted certificate does not split into TBS and algorithm")
	}
	return Linted{TBS: tbs, SigAlg: alg}, nil
}

// Assemble signs the linted TBS with signer (the HSM key, of the type the
// throwaway had) and encodes the certificate. The caller verifies the
// result against the issuer.
func (l Linted) Assemble(signer crypto.Signer) ([]byte, error) {
	var h crypto.Hash
	switch k := signer.Public().(type) {
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			h = crypto.SHA256
		case 384:
			h = crypto.SHA384
		default:
			h = crypto.SHA512
		}
	case *rsa.PublicKey:
		h = crypto.SHA256 // crypto/x509's choice for RSA, so it matches SigAlg
	default:
		return nil, fmt.Errorf("no signature hash for %T", k)
	}
	d := h.New()
	d.Write(l.TBS)
	sig, err := signer.Sign(rand.Reader, d.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("HSM signature: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(l.TBS)
		b.AddBytes(l.SigAlg)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}
