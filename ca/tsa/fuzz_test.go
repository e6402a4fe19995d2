package tsa_test

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// tstInfoOf digs the TSTInfo out of a granted TimeStampResp's token,
// with structures written for the test.
func tstInfoOf(t testing.TB, token []byte) (imprint []byte, alg asn1.ObjectIdentifier, nonce *big.Int, genTime time.Time) {
	t.Helper()
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	var sd struct {
		Version int
		Digests asn1.RawValue
		Encap   struct {
			Type    asn1.ObjectIdentifier
			Content []byte `asn1:"explicit,tag:0"`
		}
	}
	var info struct {
		Version int
		Policy  asn1.ObjectIdentifier
		Imprint struct {
			Alg    pkix.AlgorithmIdentifier
			Digest []byte
		}
		Serial   *big.Int
		GenTime  asn1.RawValue
		Accuracy struct {
			Seconds int `asn1:"optional"`
			Millis  int `asn1:"optional,tag:0"`
			Micros  int `asn1:"optional,tag:1"`
		} `asn1:"optional"`
		Ordering bool     `asn1:"optional"`
		Nonce    *big.Int `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(token, &ci); err != nil {
		t.Fatalf("token is not a ContentInfo: %v", err)
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || !sd.Encap.Type.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}) {
		t.Fatalf("token is not SignedData over a TSTInfo: %v", err)
	}
	if _, err := asn1.Unmarshal(sd.Encap.Content, &info); err != nil {
		t.Fatalf("TSTInfo: %v", err)
	}
	// GeneralizedTime, UTC, whole seconds: YYYYMMDDHHMMSSZ.
	if info.GenTime.Tag != asn1.TagGeneralizedTime || len(info.GenTime.Bytes) != 15 || info.GenTime.Bytes[14] != 'Z' {
		t.Fatalf("genTime %q is not a DER GeneralizedTime in UTC", info.GenTime.Bytes)
	}
	gt, err := time.Parse("20060102150405Z", string(info.GenTime.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	return info.Imprint.Digest, info.Imprint.Alg.Algorithm, info.Nonce, gt
}

// FuzzServeHTTP posts arbitrary bodies: the handler never panics, always
// answers a TimeStampResp, and grants only requests that are well-formed
// (checked with the test's own parser), echoing their imprint and nonce.
func FuzzServeHTTP(f *testing.F) {
	fx := newFixture(f)
	r := fx.responder(f, nil)
	writeFile(f, filepath.Join(fx.dir, "d.txt"), []byte("dokumen"))
	for _, args := range [][]string{{"-sha256", "-cert"}, {"-sha512", "-no_nonce"}, {"-md5"}, {"-sha256", "-tspolicy", policy.String()}} {
		openssl(f, fx.dir, append([]string{"ts", "-query", "-data", "d.txt", "-out", "q.tsq"}, args...)...)
		f.Add(readFile(f, filepath.Join(fx.dir, "q.tsq")))
	}
	f.Add(request(f, nil))
	f.Add(request(f, func(r *testReq) { r.MessageImprint.HashAlgorithm.Parameters = asn1.RawValue{} }))
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/tsa", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/timestamp-query")
		r.ServeHTTP(rec, req)
		if len(body) > 16<<10 {
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("HTTP %d for %d bytes", rec.Code, len(body))
			}
			return
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d", rec.Code)
		}
		resp := parseResp(t, rec.Body.Bytes())
		if resp.Status.Status != 0 {
			if resp.Status.Status != 2 || len(resp.Token.FullBytes) != 0 {
				t.Fatalf("status %d with %d token bytes", resp.Status.Status, len(resp.Token.FullBytes))
			}
			return
		}
		var q testReq
		rest, err := asn1.Unmarshal(body, &q)
		sizes := map[string]int{"2.16.840.1.101.3.4.2.1": 32, "2.16.840.1.101.3.4.2.2": 48, "2.16.840.1.101.3.4.2.3": 64}
		if err != nil || len(rest) > 0 || q.Version != 1 || sizes[q.MessageImprint.HashAlgorithm.Algorithm.String()] != len(q.MessageImprint.HashedMessage) ||
			len(q.Extensions) > 0 || (q.ReqPolicy != nil && !q.ReqPolicy.Equal(policy)) {
			t.Fatalf("granted a request that is not well-formed: %x (%v)", body, err)
		}
		imprint, alg, nonce, _ := tstInfoOf(t, resp.Token.FullBytes)
		if !bytes.Equal(imprint, q.MessageImprint.HashedMessage) || !alg.Equal(q.MessageImprint.HashAlgorithm.Algorithm) {
			t.Fatalf("imprint %s %x, request %s %x", alg, imprint, q.MessageImprint.HashAlgorithm.Algorithm, q.MessageImprint.HashedMessage)
		}
		if (nonce == nil) != (q.Nonce == nil) || (nonce != nil && nonce.Cmp(q.Nonce) != 0) {
			t.Fatalf("nonce %v, request %v", nonce, q.Nonce)
		}
	})
}
