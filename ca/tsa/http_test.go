package tsa_test

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// testReq is a TimeStampReq written by the test, not by the package.
type testReq struct {
	Version        int
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	ReqPolicy  asn1.ObjectIdentifier `asn1:"optional"`
	Nonce      *big.Int              `asn1:"optional"`
	CertReq    bool                  `asn1:"optional"`
	Extensions []pkix.Extension      `asn1:"optional,tag:0"`
}

// request returns a SHA-256 request after edit.
func request(t testing.TB, edit func(*testReq)) []byte {
	t.Helper()
	var r testReq
	r.Version = 1
	r.MessageImprint.HashAlgorithm = pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, Parameters: asn1.NullRawValue}
	r.MessageImprint.HashedMessage = bytes.Repeat([]byte{0xab}, 32)
	r.Nonce = big.NewInt(0x1234)
	if edit != nil {
		edit(&r)
	}
	der, err := asn1.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestRejections sends requests the TSA must refuse and checks the
// TimeStampResp (status rejection, the one failInfo bit, no token), the
// way openssl prints it, and the metrics.
func TestRejections(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	srv := serve(t, f.responder(t, reg))
	writeFile(t, filepath.Join(f.dir, "d.txt"), []byte("dokumen"))
	fromOpenSSL := func(args ...string) []byte {
		openssl(t, f.dir, append([]string{"ts", "-query", "-data", "d.txt", "-out", "q.tsq"}, args...)...)
		return readFile(t, filepath.Join(f.dir, "q.tsq"))
	}
	const (
		badAlg, badData, badPolicy, badExt = 0, 5, 15, 16
	)
	tests := []struct {
		name  string
		body  []byte
		bit   int
		label string
	}{
		{"garbage", []byte("this is not DER"), badData, "bad_data_format"},
		{"empty body", nil, badData, "bad_data_format"},
		{"trailing bytes", append(fromOpenSSL("-sha256"), 0), badData, "bad_data_format"},
		{"truncated", fromOpenSSL("-sha256")[:20], badData, "bad_data_format"},
		{"version 2", request(t, func(r *testReq) { r.Version = 2 }), badData, "bad_data_format"},
		{"imprint of the wrong length", request(t, func(r *testReq) { r.MessageImprint.HashedMessage = make([]byte, 20) }), badData, "bad_data_format"},
		{"hash parameters", request(t, func(r *testReq) {
			r.MessageImprint.HashAlgorithm.Parameters = asn1.RawValue{FullBytes: []byte{0x02, 0x01, 0x01}}
		}), badData, "bad_data_format"},
		{"md5", fromOpenSSL("-md5", "-cert"), badAlg, "bad_alg"},
		{"sha1", fromOpenSSL("-sha1", "-no_nonce"), badAlg, "bad_alg"},
		{"unknown hash OID", request(t, func(r *testReq) { r.MessageImprint.HashAlgorithm.Algorithm = asn1.ObjectIdentifier{1, 2, 3, 4} }), badAlg, "bad_alg"},
		{"another policy", fromOpenSSL("-sha256", "-tspolicy", "1.2.3.4"), badPolicy, "unaccepted_policy"},
		{"an extension", request(t, func(r *testReq) {
			r.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}
		}), badExt, "unaccepted_extension"},
	}
	openSSLText := map[int]string{badAlg: "unrecognized or unsupported algorithm identifier", badData: "the data submitted has the wrong format",
		badPolicy: "the requested TSA policy is not supported by the TSA", badExt: "the requested extension is not supported by the TSA"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := counter(t, reg, tc.label)
			resp, body := post(t, srv.URL, "application/timestamp-query", tc.body)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/timestamp-reply" {
				t.Fatalf("HTTP %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
			}
			r := parseResp(t, body)
			if r.Status.Status != 2 || len(r.Token.FullBytes) != 0 || len(r.Status.StatusString) != 1 {
				t.Fatalf("status %d, statusString %q, token %d bytes: want rejection with a reason and no token", r.Status.Status, r.Status.StatusString, len(r.Token.FullBytes))
			}
			for i := 0; i < r.Status.FailInfo.BitLength; i++ {
				if (r.Status.FailInfo.At(i) == 1) != (i == tc.bit) {
					t.Errorf("failInfo bit %d is %d; want only bit %d", i, r.Status.FailInfo.At(i), tc.bit)
				}
			}
			if r.Status.FailInfo.BitLength != tc.bit+1 {
				t.Errorf("failInfo has %d bits, want %d (DER drops trailing zero bits)", r.Status.FailInfo.BitLength, tc.bit+1)
			}
			writeFile(t, filepath.Join(f.dir, "reply.tsr"), body)
			text := openssl(t, f.dir, "ts", "-reply", "-in", "reply.tsr", "-text")
			if !strings.Contains(text, "Status: Rejected.") || !strings.Contains(text, openSSLText[tc.bit]) {
				t.Errorf("openssl reads:\n%s", text)
			}
			t.Logf("statusString: %s", r.Status.StatusString[0])
			if got := counter(t, reg, tc.label); got != before+1 {
				t.Errorf("%s counter %v, want %v", tc.label, got, before+1)
			}
		})
	}
	if f.random.count() != 0 {
		t.Errorf("%d random bytes drawn for refused requests", f.random.count())
	}
}

// TestHTTPErrors: methods, content types and sizes the handler refuses
// before parsing.
func TestHTTPErrors(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	srv := serve(t, f.responder(t, reg))
	good := request(t, nil)
	tests := []struct {
		name, method, ct string
		body             []byte
		code             int
		label            string
	}{
		{"GET", http.MethodGet, "", nil, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"PUT", http.MethodPut, "application/timestamp-query", good, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"no content type", http.MethodPost, "", good, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"OCSP content type", http.MethodPost, "application/ocsp-request", good, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"over 16 KiB", http.MethodPost, "application/timestamp-query", make([]byte, 16<<10+1), http.StatusRequestEntityTooLarge, "too_large"},
		{"content type with a parameter", http.MethodPost, "application/timestamp-query; foo=bar", good, http.StatusOK, "granted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := counter(t, reg, tc.label)
			req, err := http.NewRequest(tc.method, srv.URL, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("HTTP %s, want %d", resp.Status, tc.code)
			}
			if tc.code == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow %q, want POST", resp.Header.Get("Allow"))
			}
			if got := counter(t, reg, tc.label); got != before+1 {
				t.Errorf("%s counter %v, want %v", tc.label, got, before+1)
			}
		})
	}
}
