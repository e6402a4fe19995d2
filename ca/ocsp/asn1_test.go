package ocsp_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"
)

// withNonce adds a nonce extension (value: OCTET STRING nonce) to req.
func withNonce(t testing.TB, req, nonce []byte) []byte {
	t.Helper()
	value, err := asn1.Marshal(nonce)
	if err != nil {
		t.Fatal(err)
	}
	return withExtensions(t, req, pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}, Value: value})
}

func withExtensions(t testing.TB, req []byte, exts ...pkix.Extension) []byte {
	t.Helper()
	var r struct {
		TBS struct {
			RequestList []asn1.RawValue
			Extensions  []pkix.Extension `asn1:"explicit,tag:2,optional"`
		}
	}
	if _, err := asn1.Unmarshal(req, &r); err != nil {
		t.Fatal(err)
	}
	r.TBS.Extensions = exts
	der, err := asn1.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// responseExtensions digs the responseExtensions out of a response.
func responseExtensions(t testing.TB, resp []byte) []pkix.Extension {
	t.Helper()
	var outer struct {
		Status asn1.Enumerated
		Bytes  struct {
			Type     asn1.ObjectIdentifier
			Response []byte
		} `asn1:"explicit,tag:0"`
	}
	var basic struct {
		TBS struct {
			ResponderID asn1.RawValue
			ProducedAt  time.Time `asn1:"generalized"`
			Responses   []asn1.RawValue
			Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
		}
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
		Certs     []asn1.RawValue `asn1:"explicit,tag:0,optional"`
	}
	if _, err := asn1.Unmarshal(resp, &outer); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(outer.Bytes.Response, &basic); err != nil {
		t.Fatal(err)
	}
	return basic.TBS.Extensions
}

func critical() pkix.Extension {
	return pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}
}

// rawNonce is a nonce extension whose value is not wrapped in an OCTET STRING.
func rawNonce() pkix.Extension {
	return pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}, Value: []byte{1, 2, 3, 4}}
}
