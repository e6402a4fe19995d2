package ocsp_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"testing"

	"github.com/psre/appliance/ca/ocsp"
	xocsp "golang.org/x/crypto/ocsp"
)

// FuzzRespond feeds arbitrary bytes to Respond: it must never panic and
// always answer a well-formed OCSP response: one of the fixed error
// responses, or a successful one that parses and verifies.
func FuzzRespond(f *testing.F) {
	fx := newFixture(f)
	r := fx.responder(f, nil, nil)
	leaf := fx.leaf(f, 0xd001, false)
	fx.status.set(0xd001, ocsp.CertStatus{Status: xocsp.Good})
	req := fx.request(f, leaf, crypto.SHA1)
	f.Add(req)
	f.Add(fx.request(f, leaf, crypto.SHA256))
	f.Add(fx.request(f, fx.leaf(f, 0xd002, false), crypto.SHA1))
	f.Add(withNonce(f, req, []byte("nonce")))
	f.Add(withNonce(f, req, make([]byte, 33)))
	f.Add(withExtensions(f, req, critical()))
	f.Add(fx.request(f, fx.leaf(f, 0xd003, true), crypto.SHA1))
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x01})
	f.Add([]byte{})
	errorResponses := [][]byte{xocsp.MalformedRequestErrorResponse, xocsp.UnauthorizedErrorResponse, xocsp.InternalErrorErrorResponse}
	f.Fuzz(func(t *testing.T, der []byte) {
		resp, live, err := r.Respond(context.Background(), der)
		var outer struct {
			Status asn1.Enumerated
			Rest   asn1.RawValue `asn1:"optional,explicit,tag:0"`
		}
		if rest, perr := asn1.Unmarshal(resp, &outer); perr != nil || len(rest) > 0 {
			t.Fatalf("not an OCSPResponse: %x (%v)", resp, perr)
		}
		if outer.Status != 0 {
			for _, e := range errorResponses {
				if bytes.Equal(resp, e) {
					if err == nil || live {
						t.Fatalf("error response %x with err=%v live=%v", resp, err, live)
					}
					return
				}
			}
			t.Fatalf("unexpected error response %x", resp)
		}
		if err != nil {
			t.Fatalf("successful response with error %v", err)
		}
		if _, perr := xocsp.ParseResponse(resp, fx.issuing); perr != nil {
			t.Fatalf("successful response does not parse: %v", perr)
		}
	})
}
