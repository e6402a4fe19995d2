package lint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
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

// PreSign signs tmpl for subjectPub with throwaway, a key of the issuer's
// type, as issued by parent, and lints the result. It returns the TBS bytes
// the HSM's certificate must reproduce. parent must not be tmpl (self-signed
// certificates are a ceremony's business).
// privateTLS selects PrivateTLSCertificate instead of Certificate.
func (l *Linter) PreSign(tmpl, parent *x509.Certificate, subjectPub crypto.PublicKey, throwaway crypto.Signer, privateTLS bool) ([]byte, error) {
	p := *parent
	p.PublicKey = throwaway.Public()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, &p, subjectPub, throwaway)
	if err != nil {
		return nil, fmt.Errorf("build the certificate to lint: %w", err)
	}
	check := l.Certificate
	if privateTLS {
		check = l.PrivateTLSCertificate
	}
	if err := check(der); err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return c.RawTBSCertificate, nil
}
