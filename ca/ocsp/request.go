package ocsp

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"

	xocsp "golang.org/x/crypto/ocsp"
)

// oidNonce is id-pkix-ocsp-nonce (RFC 8954).
var oidNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// maxNonce is the longest nonce RFC 8954 allows.
const maxNonce = 32

// request is what the responder needs from an OCSPRequest.
type request struct {
	hash     crypto.Hash
	nameHash []byte
	keyHash  []byte
	serial   *big.Int
	nonce    *pkix.Extension // echoed in the response; nil when absent
}

// The request structures of RFC 6960 4.1.1, as far as this package reads
// them beyond what golang.org/x/crypto/ocsp does.
type ocspRequestASN1 struct {
	TBSRequest        tbsRequestASN1
	OptionalSignature asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type tbsRequestASN1 struct {
	Version           int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName     asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList       []asn1.RawValue
	RequestExtensions []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

// malformedError explains a malformedRequest answer.
type malformedError struct{ reason string }

func (e malformedError) Error() string { return "malformed OCSP request: " + e.reason }

func malformed(format string, args ...any) error {
	return malformedError{fmt.Sprintf(format, args...)}
}

// parseRequest reads an OCSPRequest: golang.org/x/crypto/ocsp for the
// CertID (it also refuses signed requests and trailing data), and
// encoding/asn1 for the rest. RFC 5019 requests carry exactly one CertID.
func parseRequest(der []byte) (*request, error) {
	base, err := xocsp.ParseRequest(der)
	if err != nil {
		return nil, malformed("%v", err)
	}
	var raw ocspRequestASN1
	if rest, err := asn1.Unmarshal(der, &raw); err != nil || len(rest) > 0 {
		return nil, malformed("request extensions unreadable: %v", err)
	}
	tbs := raw.TBSRequest
	if tbs.Version != 0 {
		return nil, malformed("version %d, want v1 (0)", tbs.Version)
	}
	if n := len(tbs.RequestList); n != 1 {
		return nil, malformed("%d certificates in one request; RFC 5019 allows one", n)
	}
	if base.SerialNumber == nil {
		return nil, malformed("no serial number")
	}
	// RFC 5280 4.1.2.2: serials are positive and at most 20 octets; anything
	// else was never issued here and would only make us sign chosen bytes.
	if base.SerialNumber.Sign() <= 0 || len(base.SerialNumber.Bytes()) > 20 {
		return nil, malformed("serial number is not positive or longer than 20 octets")
	}
	req := &request{hash: base.HashAlgorithm, nameHash: base.IssuerNameHash, keyHash: base.IssuerKeyHash, serial: base.SerialNumber}
	seen := make(map[string]bool, len(tbs.RequestExtensions))
	for _, ext := range tbs.RequestExtensions {
		id := ext.Id.String()
		if seen[id] {
			return nil, malformed("extension %s appears twice", id)
		}
		seen[id] = true
		switch {
		case ext.Id.Equal(oidNonce):
			var nonce []byte
			rest, err := asn1.Unmarshal(ext.Value, &nonce)
			if err != nil || len(rest) > 0 {
				return nil, malformed("the nonce is not an OCTET STRING")
			}
			if len(nonce) < 1 || len(nonce) > maxNonce {
				return nil, malformed("nonce of %d octets; RFC 8954 allows 1 to %d", len(nonce), maxNonce)
			}
			req.nonce = &pkix.Extension{Id: oidNonce, Value: ext.Value}
		case ext.Critical:
			return nil, malformed("unsupported critical extension %s", id)
		}
	}
	return req, nil
}
