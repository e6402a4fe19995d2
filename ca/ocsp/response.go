package ocsp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	xocsp "golang.org/x/crypto/ocsp"
)

// The response structures of RFC 6960 4.2.1.
type certID struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	NameHash      []byte
	IssuerKeyHash []byte
	SerialNumber  *big.Int
}

type revokedInfo struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"` // absent when unspecified (0)
}

type singleResponse struct {
	CertID     certID
	CertStatus asn1.RawValue // [0] good, [1] revoked, [2] unknown (IMPLICIT)
	ThisUpdate time.Time     `asn1:"generalized"`
	NextUpdate time.Time     `asn1:"generalized,explicit,tag:0,optional"`
}

type responseData struct {
	ResponderID        asn1.RawValue // version v1 is the DEFAULT and so absent
	ProducedAt         time.Time     `asn1:"generalized"`
	Responses          []singleResponse
	ResponseExtensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type basicResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type responseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type ocspResponse struct {
	Status   asn1.Enumerated
	Response responseBytes `asn1:"explicit,tag:0"`
}

var (
	oidBasic          = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidECDSAWithSHA   = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: {1, 2, 840, 10045, 4, 3, 2}, crypto.SHA384: {1, 2, 840, 10045, 4, 3, 3}, crypto.SHA512: {1, 2, 840, 10045, 4, 3, 4}}
	oidSHA256WithRSA  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	asn1Null          = asn1.RawValue{Tag: asn1.TagNull}
	certIDAlgorithms  = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA1: {1, 3, 14, 3, 2, 26}, crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1}}
	validReasonCodes  = map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 8: true, 9: true, 10: true}
	errResponderStale = errors.New("the OCSP responder certificate has expired: renew it (ocsp-signer ceremony)")
)

// sigParams chooses the signature algorithm for the responder's key.
func sigParams(pub crypto.PublicKey) (crypto.Hash, pkix.AlgorithmIdentifier, x509.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA[crypto.SHA256]}, x509.ECDSAWithSHA256, nil
		case elliptic.P384():
			return crypto.SHA384, pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA[crypto.SHA384]}, x509.ECDSAWithSHA384, nil
		case elliptic.P521():
			return crypto.SHA512, pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA[crypto.SHA512]}, x509.ECDSAWithSHA512, nil
		}
	case *rsa.PublicKey:
		return crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1Null}, x509.SHA256WithRSA, nil
	}
	return 0, pkix.AlgorithmIdentifier{}, 0, fmt.Errorf("responder key type %T is not supported (use ECDSA or RSA)", pub)
}

// certStatus encodes the CertStatus CHOICE.
func certStatus(st CertStatus) (asn1.RawValue, error) {
	switch st.Status {
	case xocsp.Good:
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0}, nil
	case xocsp.Unknown:
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2}, nil
	case xocsp.Revoked:
		if st.RevokedAt.IsZero() || !validReasonCodes[st.Reason] {
			return asn1.RawValue{}, fmt.Errorf("revoked status with time %v and reason %d", st.RevokedAt, st.Reason)
		}
		der, err := asn1.Marshal(revokedInfo{RevocationTime: st.RevokedAt.UTC().Truncate(time.Second), Reason: asn1.Enumerated(st.Reason)})
		if err != nil {
			return asn1.RawValue{}, err
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(der, &seq); err != nil {
			return asn1.RawValue{}, err
		}
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: seq.Bytes}, nil
	}
	return asn1.RawValue{}, fmt.Errorf("status %d is not good, revoked or unknown", st.Status)
}

// signed is one signed response and what the handler and cache need of it.
type signed struct {
	der        []byte
	status     int
	thisUpdate time.Time
	nextUpdate time.Time
}

// sign builds, signs (on the HSM), verifies and encodes a successful
// response for serial under s's CA with a CertID of hash. ext, if not
// nil, goes into responseExtensions (the nonce).
func (s *served) sign(hash crypto.Hash, serial *big.Int, st CertStatus, now time.Time, lifetime time.Duration, ext *pkix.Extension) (signed, error) {
	ids, ok := s.ids[hash]
	if !ok {
		return signed{}, fmt.Errorf("CertID hash %v not supported", hash)
	}
	status, err := certStatus(st)
	if err != nil {
		return signed{}, err
	}
	this := now.UTC().Truncate(time.Second)
	next := this.Add(lifetime)
	if na := s.Responder.NotAfter; next.After(na) {
		next = na.UTC().Truncate(time.Second)
	}
	if !next.After(this) {
		return signed{}, errResponderStale
	}
	tbs := responseData{
		ResponderID: s.responderID,
		ProducedAt:  this,
		Responses: []singleResponse{{
			CertID: certID{
				HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: certIDAlgorithms[hash], Parameters: asn1Null},
				NameHash:      ids.name, IssuerKeyHash: ids.key, SerialNumber: serial,
			},
			CertStatus: status, ThisUpdate: this, NextUpdate: next,
		}},
	}
	if ext != nil {
		tbs.ResponseExtensions = []pkix.Extension{*ext}
	}
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		return signed{}, fmt.Errorf("encode ResponseData: %w", err)
	}
	h := s.sigHash.New()
	h.Write(tbsDER)
	sig, err := s.Key.Sign(rand.Reader, h.Sum(nil), s.sigHash)
	if err != nil {
		return signed{}, fmt.Errorf("HSM signature of an OCSP response for %s: %w", s.CA, err)
	}
	if err := s.Responder.CheckSignature(s.sigX509, tbsDER, sig); err != nil {
		return signed{}, fmt.Errorf("the HSM's OCSP signature does not verify: %w", err)
	}
	basic, err := asn1.Marshal(basicResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbsDER},
		SignatureAlgorithm: s.sigAlg,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
		Certificates:       []asn1.RawValue{{FullBytes: s.Responder.Raw}},
	})
	if err != nil {
		return signed{}, err
	}
	der, err := asn1.Marshal(ocspResponse{Status: asn1.Enumerated(xocsp.Success), Response: responseBytes{ResponseType: oidBasic, Response: basic}})
	if err != nil {
		return signed{}, err
	}
	return signed{der: der, status: st.Status, thisUpdate: this, nextUpdate: next}, nil
}
