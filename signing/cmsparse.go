package signing

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// signerData is the first SignerInfo of a CMS SignedData, with what is
// needed to check it.
type signerData struct {
	certs       []*x509.Certificate
	cert        *x509.Certificate // the one issuerAndSerialNumber names
	digestHash  crypto.Hash
	signedAttrs []byte // re-tagged as SET OF, as signed
	attrs       map[string][]byte
	sigAlg      x509.SignatureAlgorithm
	signature   []byte
	unsigned    map[string][]byte
}

var errCMS = errors.New("malformed CMS SignedData")

// parseCMS reads a DER ContentInfo holding SignedData; bytes after it (the
// zero padding of /Contents) are ignored.
func parseCMS(der []byte) (*signerData, error) {
	in := cryptobyte.String(der)
	var ci, wrap, sd, algs, encap, certs, infos, si, sid, issuer, dalg, salg cryptobyte.String
	var ctype, doid, soid asn1.ObjectIdentifier
	var version, siVersion int
	serial := new(big.Int)
	var hasCerts bool
	s := &signerData{}
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ctype) || !ctype.Equal(oidSignedData) ||
		!ci.ReadASN1(&wrap, tagContext0) || !wrap.ReadASN1(&sd, cbasn1.SEQUENCE) ||
		!sd.ReadASN1Integer(&version) || !sd.ReadASN1(&algs, cbasn1.SET) || !sd.ReadASN1(&encap, cbasn1.SEQUENCE) ||
		!sd.ReadOptionalASN1(&certs, &hasCerts, tagContext0) ||
		!sd.SkipOptionalASN1(tagContext1) || !sd.ReadASN1(&infos, cbasn1.SET) {
		return nil, errCMS
	}
	for !certs.Empty() {
		var c cryptobyte.String
		if !certs.ReadASN1Element(&c, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: certificates", errCMS)
		}
		cert, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate: %v", errCMS, err)
		}
		s.certs = append(s.certs, cert)
	}
	if !infos.ReadASN1(&si, cbasn1.SEQUENCE) || !si.ReadASN1Integer(&siVersion) || siVersion != 1 ||
		!si.ReadASN1(&sid, cbasn1.SEQUENCE) || !sid.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !sid.ReadASN1Integer(serial) ||
		!si.ReadASN1(&dalg, cbasn1.SEQUENCE) || !dalg.ReadASN1ObjectIdentifier(&doid) {
		return nil, fmt.Errorf("%w: signer info", errCMS)
	}
	for _, c := range s.certs {
		if bytes.Equal(c.RawIssuer, issuer) && c.SerialNumber.Cmp(serial) == 0 {
			s.cert = c
		}
	}
	if s.cert == nil {
		return nil, fmt.Errorf("%w: the signer certificate is not included", errCMS)
	}
	var signed cryptobyte.String
	if !si.PeekASN1Tag(tagContext0) || !si.ReadASN1Element(&signed, tagContext0) {
		return nil, fmt.Errorf("%w: no signed attributes", errCMS)
	}
	s.signedAttrs = append([]byte{byte(cbasn1.SET)}, signed[1:]...)
	var err error
	if s.attrs, err = parseAttributes(signed, tagContext0); err != nil {
		return nil, err
	}
	if !si.ReadASN1(&salg, cbasn1.SEQUENCE) || !salg.ReadASN1ObjectIdentifier(&soid) ||
		!si.ReadASN1Bytes(&s.signature, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: signature", errCMS)
	}
	if si.PeekASN1Tag(tagContext1) {
		var unsigned cryptobyte.String
		if !si.ReadASN1Element(&unsigned, tagContext1) {
			return nil, fmt.Errorf("%w: unsigned attributes", errCMS)
		}
		if s.unsigned, err = parseAttributes(unsigned, tagContext1); err != nil {
			return nil, err
		}
	}
	if s.digestHash, s.sigAlg, err = algorithms(doid, soid); err != nil {
		return nil, err
	}
	return s, nil
}

// parseAttributes maps each attribute type (dotted) to its first value's
// DER element.
func parseAttributes(el cryptobyte.String, tag cbasn1.Tag) (map[string][]byte, error) {
	var set cryptobyte.String
	if !el.ReadASN1(&set, tag) {
		return nil, fmt.Errorf("%w: attributes", errCMS)
	}
	m := map[string][]byte{}
	for !set.Empty() {
		var a, values, v cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !set.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&oid) ||
			!a.ReadASN1(&values, cbasn1.SET) || !values.ReadAnyASN1Element(&v, nil) {
			return nil, fmt.Errorf("%w: attribute", errCMS)
		}
		if _, dup := m[oid.String()]; dup {
			return nil, fmt.Errorf("%w: attribute %s twice", errCMS, oid)
		}
		m[oid.String()] = v
	}
	return m, nil
}

// algorithms maps the digest and signature algorithm identifiers.
func algorithms(digest, sig asn1.ObjectIdentifier) (crypto.Hash, x509.SignatureAlgorithm, error) {
	hashes := []struct {
		oid   asn1.ObjectIdentifier
		h     crypto.Hash
		ecdsa x509.SignatureAlgorithm
		rsa   x509.SignatureAlgorithm
		rsaID asn1.ObjectIdentifier
	}{
		{oidSHA256, crypto.SHA256, x509.ECDSAWithSHA256, x509.SHA256WithRSA, oidSHA256WithRSA},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, crypto.SHA384, x509.ECDSAWithSHA384, x509.SHA384WithRSA, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, crypto.SHA512, x509.ECDSAWithSHA512, x509.SHA512WithRSA, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}},
	}
	ecdsaIDs := map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA256: oidECDSAWithSHA256,
		crypto.SHA384: {1, 2, 840, 10045, 4, 3, 3},
		crypto.SHA512: {1, 2, 840, 10045, 4, 3, 4},
	}
	rsaEncryption := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	for _, e := range hashes {
		if !digest.Equal(e.oid) {
			continue
		}
		switch {
		case sig.Equal(ecdsaIDs[e.h]):
			return e.h, e.ecdsa, nil
		case sig.Equal(e.rsaID), sig.Equal(rsaEncryption):
			return e.h, e.rsa, nil
		}
		return 0, 0, fmt.Errorf("%w: signature algorithm %s with digest %s", errCMS, sig, digest)
	}
	return 0, 0, fmt.Errorf("%w: digest algorithm %s", errCMS, digest)
}
