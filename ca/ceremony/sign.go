package ceremony

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/hsm"
)

// ErrTBSMismatch means the HSM-signed object differs from the linted one.
var ErrTBSMismatch = ca.ErrMismatch

// throwawayFor makes an in-memory key of algorithm alg.
func throwawayFor(alg hsm.Algorithm) (crypto.Signer, error) {
	switch alg {
	case hsm.ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case hsm.ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case hsm.RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("no throwaway key for algorithm %q", alg)
}

// prelint lints the certificate built for a throwaway subject key of
// algorithm alg, signed by a throwaway key of the issuer's type (or
// self-signed when parent is nil). It runs before the ceremony generates
// its key, so a template zlint refuses leaves nothing on the token.
func prelint(l *lint.Linter, build func(crypto.PublicKey) (*x509.Certificate, error), parent *x509.Certificate, alg hsm.Algorithm) error {
	subject, err := throwawayFor(alg)
	if err != nil {
		return err
	}
	tmpl, err := build(subject.Public())
	if err != nil {
		return err
	}
	signer, issuer := subject, tmpl
	if parent != nil {
		if signer, err = lint.ThrowawayKey(parent.PublicKey); err != nil {
			return err
		}
		issuer = withPublicKey(parent, signer.Public())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, subject.Public(), signer)
	if err != nil {
		return fmt.Errorf("build the certificate to lint: %w", err)
	}
	if err := l.Certificate(der); err != nil {
		return fmt.Errorf("before generating the key: %w", err)
	}
	return nil
}

// withPublicKey returns a copy of cert claiming pub, so crypto/x509 accepts
// the throwaway key as the issuer's.
func withPublicKey(cert *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
	c := *cert
	c.PublicKey = pub
	return &c
}

// signCertificate runs the lint-sign-check path for one certificate.
// build makes the template for a subject public key; parent nil means
// self-signed. It returns the HSM-signed DER.
//
// zlint recognises a root by its valid self-signature, so for a
// self-signed certificate the pre-signing lint uses the throwaway key as
// the subject key too; the HSM-signed TBS is then compared with the same
// template built for the real key and signed by the throwaway key, and the
// final bytes are linted again after signing.
func signCertificate(l *lint.Linter, build func(crypto.PublicKey) (*x509.Certificate, error), parent *x509.Certificate, subjectPub crypto.PublicKey, signer crypto.Signer, step func(string, string)) ([]byte, error) {
	throwaway, err := lint.ThrowawayKey(signer.Public())
	if err != nil {
		return nil, err
	}
	tmpl, err := build(subjectPub)
	if err != nil {
		return nil, err
	}
	lintTmpl, lintPub := tmpl, subjectPub
	var lintParent, realParent *x509.Certificate
	if parent == nil {
		if lintTmpl, err = build(throwaway.Public()); err != nil {
			return nil, err
		}
		lintPub, lintParent, realParent = throwaway.Public(), lintTmpl, tmpl
	} else {
		lintParent, realParent = withPublicKey(parent, throwaway.Public()), parent
	}
	linted, err := x509.CreateCertificate(rand.Reader, lintTmpl, lintParent, lintPub, throwaway)
	if err != nil {
		return nil, fmt.Errorf("build the certificate to lint: %w", err)
	}
	if err := l.Certificate(linted); err != nil {
		return nil, fmt.Errorf("before signing: %w", err)
	}
	step("lint", "zlint: no error or warning on the throwaway-signed certificate")
	expected := linted
	if parent == nil {
		if expected, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, subjectPub, throwaway); err != nil {
			return nil, fmt.Errorf("build the expected certificate: %w", err)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, realParent, subjectPub, signer)
	if err != nil {
		return nil, fmt.Errorf("HSM signature: %w", err)
	}
	step("hsm_sign", "certificate signed by the HSM")
	want, err := x509.ParseCertificate(expected)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the signed certificate: %w", err)
	}
	if !bytes.Equal(want.RawTBSCertificate, cert.RawTBSCertificate) {
		return nil, ErrTBSMismatch
	}
	issuer := cert
	if parent != nil {
		issuer = parent
	}
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the HSM's signature does not verify: %w", err)
	}
	if err := l.Certificate(der); err != nil {
		return nil, fmt.Errorf("after signing: %w", err)
	}
	step("verify", "signature verifies, TBS equals the linted TBS, zlint clean")
	return der, nil
}

// signCRL runs the same path for a CRL (ca.SignCRLChecked).
func signCRL(l *lint.Linter, tmpl *x509.RevocationList, issuer *x509.Certificate, signer crypto.Signer, step func(string, string)) ([]byte, error) {
	throwaway, err := lint.ThrowawayKey(signer.Public())
	if err != nil {
		return nil, err
	}
	return ca.SignCRLChecked(l, tmpl, issuer, signer, throwaway, step)
}
