package ceremony

// The tsa ceremony type certifies the key of an RFC 3161 time-stamping
// unit (package ca/tsa): like ocsp-signer, a delegated end-entity key
// generated on the CA's token and certified by the issuing CA in the HSM.
//
//	type: tsa
//	issuer:      {uri: pkcs11:token=ca;object=issuing-ca, certificate: issuing.pem}
//	key:         {uri: pkcs11:token=ca;object=tsa, algorithm: ecdsa-p256, generate: true}
//	certificate: {subject: ..., validity_days: 730, crl_url: ..., [issuer_url, ocsp_url, policies, cps_uri]}
//	outputs:     {certificate: tsa.pem}
//
// The profile is fixed: keyUsage digitalSignature (critical) and an
// extendedKeyUsage holding id-kp-timeStamping alone, marked critical, as
// RFC 3161 section 2.3 requires (crypto/x509 writes that extension
// non-critical, so it is added as a raw extension). Unlike an OCSP
// responder certificate it carries no ocsp-nocheck and can be revoked, so
// the CRL distribution point is required.

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// MaxTSADays bounds a TSA certificate's validity: under the 135 months the
// CA/B Forum Code Signing Baseline Requirements (6.3.2) allow a Timestamp
// Certificate. The same section lets the key sign for 15 months only; the
// certificate lives longer so that the tokens it signed stay verifiable.
const MaxTSADays = 4100

var (
	oidExtKeyUsage  = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// validateTSACertificate checks the certificate section of a tsa ceremony.
func (pl *plan) validateTSACertificate(p *problems) {
	c := pl.cfg.Certificate
	if c.PathLength != nil {
		p.addf("certificate.path_length: a TSA certificate is not a CA: remove path_length")
	}
	if len(c.ExtKeyUsages) > 0 {
		p.addf("certificate.ext_key_usages: a TSA certificate has a fixed extended key usage (id-kp-timeStamping alone, critical: RFC 3161 2.3): remove ext_key_usages")
	}
	if c.CRLURL == "" {
		p.addf("certificate.crl_url: missing: a TSA certificate can be revoked, so it needs the issuer's CRL distribution point")
	}
}

// tsaProfile sets the fixed TSA profile on a certificate template.
func tsaProfile(t *x509.Certificate) error {
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		return fmt.Errorf("encode the TSA extended key usage: %w", err)
	}
	t.KeyUsage = x509.KeyUsageDigitalSignature
	t.ExtKeyUsage, t.UnknownExtKeyUsage = nil, nil
	t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: eku})
	return nil
}
