package tsa

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
)

// PKIFailureInfo bits (RFC 3161 section 2.4.2).
const (
	failBadAlg              = 0
	failBadDataFormat       = 5
	failUnacceptedPolicy    = 15
	failUnacceptedExtension = 16
	failSystemFailure       = 25
)

// failure is a refusal: the failInfo bit, the statusString and the
// metrics label.
type failure struct {
	bit   int
	text  string
	label string
}

func badData(format string, args ...any) *failure {
	return &failure{failBadDataFormat, fmt.Sprintf(format, args...), labelBadDataFormat}
}

// request is a parsed, accepted TimeStampReq.
type request struct {
	alg     pkix.AlgorithmIdentifier // as the request wrote it, echoed in TSTInfo
	hash    crypto.Hash
	digest  []byte
	nonce   *big.Int
	certReq bool
}

// asn1Null is the DER of NULL, the other accepted form of hash parameters.
var asn1Null = []byte{0x05, 0x00}

// parseRequest decodes a DER TimeStampReq and checks it against what this
// TSA supports.
func (r *Responder) parseRequest(der []byte) (*request, *failure) {
	var req timeStampReq
	rest, err := asn1.Unmarshal(der, &req)
	switch {
	case err != nil:
		return nil, badData("not a DER TimeStampReq")
	case len(rest) > 0:
		return nil, badData("trailing bytes after the TimeStampReq")
	case req.Version != 1:
		return nil, badData("version %d: only version 1 is defined", req.Version)
	}
	alg := req.MessageImprint.HashAlgorithm
	h := hashOf(alg.Algorithm)
	if h == 0 {
		return nil, &failure{failBadAlg, fmt.Sprintf("hash algorithm %s is not accepted: use SHA-256, SHA-384 or SHA-512", alg.Algorithm), labelBadAlg}
	}
	if p := alg.Parameters.FullBytes; len(p) > 0 && !bytes.Equal(p, asn1Null) {
		return nil, badData("the hash algorithm has parameters")
	}
	if n := len(req.MessageImprint.HashedMessage); n != h.Size() {
		return nil, badData("the hashed message has %d bytes; %s has %d", n, h, h.Size())
	}
	if req.ReqPolicy != nil && !req.ReqPolicy.Equal(r.cfg.Policy) {
		return nil, &failure{failUnacceptedPolicy, fmt.Sprintf("policy %s is not offered: this TSA issues under %s", req.ReqPolicy, r.cfg.Policy), labelUnacceptedPolicy}
	}
	if len(req.Extensions) > 0 {
		return nil, &failure{failUnacceptedExtension, fmt.Sprintf("extension %s is not supported: this TSA supports none", req.Extensions[0].Id), labelUnacceptedExtension}
	}
	return &request{alg: alg, hash: h, digest: req.MessageImprint.HashedMessage, nonce: req.Nonce, certReq: req.CertReq}, nil
}

// failInfo is the DER named bit string with only bit set.
func failInfo(bit int) asn1.BitString {
	b := make([]byte, bit/8+1)
	b[bit/8] = 0x80 >> (bit % 8)
	return asn1.BitString{Bytes: b, BitLength: bit + 1}
}

// rejection is the DER TimeStampResp refusing a request, with f.text as
// its statusString (PKIFreeText: SEQUENCE OF UTF8String).
func rejection(f *failure) []byte {
	st := pkiStatusInfo{Status: statusRejection, FailInfo: failInfo(f.bit)}
	if s, err := asn1.MarshalWithParams(strings.ToValidUTF8(f.text, "?"), "utf8"); err == nil {
		if text, err := wrap(0, asn1.TagSequence, s); err == nil {
			st.StatusString = asn1.RawValue{FullBytes: text}
		}
	}
	der, err := asn1.Marshal(timeStampResp{Status: st})
	if err != nil { // cannot happen with these types; answer without the text
		der, _ = asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: statusRejection, FailInfo: failInfo(f.bit)}})
	}
	return der
}

// PKIStatus values (RFC 3161 section 2.4.2).
const (
	statusGranted   = 0
	statusRejection = 2
)
