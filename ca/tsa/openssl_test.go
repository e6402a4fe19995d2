package tsa_test

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var nonceRE = regexp.MustCompile(`Nonce: (\S+)`)

// TestOpenSSLClient has openssl write requests, sends them over HTTP, and
// has openssl verify the replies against the data, the request and the
// chain: "Verification: OK", the nonce echoed, our policy, the accuracy,
// genTime in UTC to the second, and signing-certificate-v2 in the token.
func TestOpenSSLClient(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	srv := serve(t, f.responder(t, reg))
	writeFile(t, filepath.Join(f.dir, "tsa-chain.pem"), append(readFile(t, filepath.Join(f.dir, "tsa.pem")), readFile(t, filepath.Join(f.dir, "chain.pem"))...))
	tests := []struct {
		name      string
		args      []string
		untrusted string // certificates openssl needs besides the token's
		nonce     bool
		certs     bool
	}{
		{"sha256 with nonce and certReq", []string{"-sha256", "-cert"}, "chain.pem", true, true},
		{"sha256 without nonce or certReq", []string{"-sha256", "-no_nonce"}, "tsa-chain.pem", false, false},
		{"sha384 asking for our policy", []string{"-sha384", "-cert", "-tspolicy", policy.String()}, "chain.pem", true, true},
		{"sha512", []string{"-sha512", "-cert"}, "chain.pem", true, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := f.dir
			data := "data" + string(rune('a'+i)) + ".txt"
			writeFile(t, filepath.Join(dir, data), []byte("dokumen nomor "+tc.name))
			openssl(t, dir, append([]string{"ts", "-query", "-data", data, "-out", "req.tsq"}, tc.args...)...)
			resp, body := post(t, srv.URL+"/tsa", "application/timestamp-query", readFile(t, filepath.Join(dir, "req.tsq")))
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/timestamp-reply" {
				t.Fatalf("HTTP %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
			}
			writeFile(t, filepath.Join(dir, "reply.tsr"), body)
			for _, against := range [][]string{{"-data", data}, {"-queryfile", "req.tsq"}} {
				out := openssl(t, dir, append([]string{"ts", "-verify", "-in", "reply.tsr", "-CAfile", "root.pem", "-untrusted", tc.untrusted}, against...)...)
				if !strings.Contains(out, "Verification: OK") {
					t.Errorf("openssl ts -verify %v: %s", against, out)
				}
			}
			query := openssl(t, dir, "ts", "-query", "-in", "req.tsq", "-text")
			text := openssl(t, dir, "ts", "-reply", "-in", "reply.tsr", "-text")
			genTime := f.clock.Now().UTC().Format("Jan _2 15:04:05 2006") + " GMT"
			for _, w := range []string{"Status: Granted.", "Version: 1", "Policy OID: " + policy.String(), "Time stamp: " + genTime,
				"Accuracy: 0x01 seconds, unspecified millis, unspecified micros", "Ordering: no", "TSA: DirName:/C=ID/O=PT Uji/CN=Uji TSA G1"} {
				if !strings.Contains(text, w) {
					t.Errorf("reply lacks %q:\n%s", w, text)
				}
			}
			q, r := nonceRE.FindStringSubmatch(query), nonceRE.FindStringSubmatch(text)
			if q == nil || r == nil || q[1] != r[1] || (q[1] != "unspecified") != tc.nonce {
				t.Errorf("nonce: request %v, reply %v (want one present: %v)", q, r, tc.nonce)
			}
			openssl(t, dir, "ts", "-reply", "-in", "reply.tsr", "-token_out", "-out", "token.der")
			cms := openssl(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "token.der")
			for _, w := range []string{"eContentType: id-smime-ct-TSTInfo", "object: id-smime-aa-signingCertificateV2", "object: contentType", "object: messageDigest"} {
				if !strings.Contains(cms, w) {
					t.Errorf("token lacks %q:\n%s", w, cms)
				}
			}
			if got := strings.Contains(cms, "CN=Uji TSA G1") && strings.Contains(cms, "CN=Uji Issuing CA"); got != tc.certs {
				t.Errorf("certificates in the token: %v, want %v", got, tc.certs)
			}
		})
	}
	if got := counter(t, reg, "granted"); got != float64(len(tests)) {
		t.Errorf("granted counter %v, want %d", got, len(tests))
	}
}
