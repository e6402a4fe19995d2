package ceremony

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"

	"github.com/psre/appliance/ca"
)

func (n Name) pkix() pkix.Name {
	out := pkix.Name{Country: []string{n.Country}, Organization: []string{n.Organization}, CommonName: n.CommonName}
	if n.OrganizationalUnit != "" {
		out.OrganizationalUnit = []string{n.OrganizationalUnit}
	}
	if n.Province != "" {
		out.Province = []string{n.Province}
	}
	if n.Locality != "" {
		out.Locality = []string{n.Locality}
	}
	return out
}

// certificateTemplate builds the template for a root, subordinate or OCSP
// responder certificate from a validated plan.
func (pl *plan) certificateTemplate(serial *big.Int, subjectPub crypto.PublicKey) (*x509.Certificate, error) {
	c := pl.cfg.Certificate
	ski, err := ca.SubjectKeyID(subjectPub)
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               c.Subject.pkix(),
		NotBefore:             pl.notBefore,
		NotAfter:              pl.notAfter,
		SubjectKeyId:          ski,
		BasicConstraintsValid: true,
		ExtKeyUsage:           pl.ekus,
		UnknownExtKeyUsage:    pl.unknownEKU,
	}
	switch pl.cfg.Type {
	case TypeRoot:
		t.IsCA = true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		t.MaxPathLen = -1
	case TypeSubordinate:
		t.IsCA = true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		t.MaxPathLen = *c.PathLength
		t.MaxPathLenZero = *c.PathLength == 0
	case TypeOCSPSigner:
		t.KeyUsage = x509.KeyUsageDigitalSignature
		t.ExtraExtensions = append(t.ExtraExtensions, pkixNull(oidOCSPNoCheck))
	case TypeTSA:
		if err := tsaProfile(t); err != nil { // tsa.go
			return nil, err
		}
	}
	if pl.cfg.Type == TypeRoot {
		t.AuthorityKeyId = ski
	}
	if c.CRLURL != "" {
		t.CRLDistributionPoints = []string{c.CRLURL}
	}
	if c.OCSPURL != "" {
		t.OCSPServer = []string{c.OCSPURL}
	}
	if c.IssuerURL != "" {
		t.IssuingCertificateURL = []string{c.IssuerURL}
	}
	if len(pl.policies) > 0 {
		ext, err := ca.PoliciesExtension(pl.policies, c.CPSURI)
		if err != nil {
			return nil, err
		}
		t.ExtraExtensions = append(t.ExtraExtensions, ext)
	}
	return t, nil
}

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1).
var oidOCSPNoCheck = []int{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// pkixNull is an extension whose value is ASN.1 NULL (as ocsp-nocheck).
func pkixNull(id []int) pkix.Extension {
	return pkix.Extension{Id: id, Value: []byte{0x05, 0x00}}
}

// crlTemplate builds the CRL template from a validated plan.
func (pl *plan) crlTemplate() *x509.RevocationList {
	return &x509.RevocationList{
		Number:                    big.NewInt(pl.cfg.CRL.Number),
		ThisUpdate:                pl.notBefore,
		NextUpdate:                pl.notAfter,
		RevokedCertificateEntries: pl.revoked,
	}
}
