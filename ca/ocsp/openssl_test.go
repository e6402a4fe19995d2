package ocsp_test

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca/ocsp"
	xocsp "golang.org/x/crypto/ocsp"
)

// TestOpenSSLClient runs `openssl ocsp` against the responder over TCP,
// with and without a nonce, for a good and a revoked certificate.
func TestOpenSSLClient(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is a test dependency (make deps installs it)")
	}
	f := newFixture(t)
	r := f.responder(t, openDB(t), nil)
	srv := serve(t, r)
	good, revoked := f.leaf(t, 0xb001, false), f.leaf(t, 0xb002, false)
	f.status.set(0xb001, ocsp.CertStatus{Status: xocsp.Good})
	f.status.set(0xb002, ocsp.CertStatus{Status: xocsp.Revoked, RevokedAt: f.clock.Now().Add(-time.Hour), Reason: xocsp.KeyCompromise})
	writePEM(t, filepath.Join(f.dir, "good.pem"), good.Raw)
	writePEM(t, filepath.Join(f.dir, "revoked.pem"), revoked.Raw)
	keyID := strings.ToUpper(hex.EncodeToString(responderKeyHash(t, f)))
	for _, nonce := range []bool{false, true} {
		for _, tc := range []struct{ leaf, want string }{
			{"good.pem", "good.pem: good"},
			{"revoked.pem", "revoked.pem: revoked"},
		} {
			args := []string{"ocsp", "-issuer", "issuing.pem", "-cert", tc.leaf, "-url", srv.URL + "/ocsp",
				"-CAfile", "root.pem", "-resp_text"}
			if !nonce {
				args = append(args, "-no_nonce")
			}
			cmd := exec.Command("openssl", args...)
			cmd.Dir = f.dir
			out, err := cmd.CombinedOutput()
			text := string(out)
			if err != nil {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, text)
			}
			for _, want := range []string{tc.want, "Response verify OK", "Responder Id: " + keyID} {
				if !strings.Contains(text, want) {
					t.Errorf("nonce=%v %s: output lacks %q:\n%s", nonce, tc.leaf, want, text)
				}
			}
			if strings.Contains(tc.leaf, "revoked") && !strings.Contains(text, "Reason: keyCompromise") {
				t.Errorf("revocation reason missing:\n%s", text)
			}
			if strings.Contains(strings.ToLower(text), "nonce") != nonce {
				t.Errorf("nonce=%v: nonce in output disagrees (no warning expected):\n%s", nonce, text)
			}
			if strings.Contains(text, "WARNING") {
				t.Errorf("openssl warns:\n%s", text)
			}
		}
	}
}

// TestOpenSSLRequestOverGET has openssl write a request (-reqout) and
// sends it with GET, as RFC 5019 clients do, then has openssl check the
// answer (-respin).
func TestOpenSSLRequestOverGET(t *testing.T) {
	f := newFixture(t)
	srv := serve(t, f.responder(t, nil, nil))
	leaf := f.leaf(t, 0xc001, false)
	f.status.set(0xc001, ocsp.CertStatus{Status: xocsp.Good})
	writePEM(t, filepath.Join(f.dir, "leaf.pem"), leaf.Raw)
	run := func(args ...string) string {
		cmd := exec.Command("openssl", args...)
		cmd.Dir = f.dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("ocsp", "-issuer", "issuing.pem", "-sha256", "-cert", "leaf.pem", "-no_nonce", "-reqout", "req.der")
	req := readFile(t, filepath.Join(f.dir, "req.der"))
	resp, body := do(t, http.MethodGet, srv.URL+"/ocsp/"+strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(base64.StdEncoding.EncodeToString(req)), "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	writeFile(t, filepath.Join(f.dir, "resp.der"), body)
	out := run("ocsp", "-issuer", "issuing.pem", "-sha256", "-cert", "leaf.pem", "-respin", "resp.der",
		"-CAfile", "root.pem", "-no_nonce")
	if !strings.Contains(out, "leaf.pem: good") || !strings.Contains(out, "Response verify OK") {
		t.Fatalf("openssl on the GET response:\n%s", out)
	}
}
