package main_test

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

const serveConfigTemplate = `state_dir: %[1]s
pki_dir: %[1]s/pki
hsm:
  module: %[2]s
  token: ca
  pin: file:%[1]s/pins/ca
  users_pin: file:%[1]s/pins/users
listen:
  portal: 127.0.0.1:0
  metrics: 127.0.0.1:0
base_url: http://pki.example.test
policy_oid: 2.16.360.1.99999.1.1
cps_uri: http://pki.example.test/cps
crl_lifetime: 96h
tsa_policy_oid: 2.16.360.1.99999.2.1
workflow:
  invoice:
    amount: 250000
    bank_name: Bank Uji
    account_number: "1112223334"
    account_name: PT Uji
notify:
  smtp:
    addr: 127.0.0.1:1
    from: PSrE Uji <noreply@pki.example.test>
  sms:
    url: http://127.0.0.1:1/send
    body_template: '{"to": {{json .To}}, "text": {{json .Text}}}'
`

// TestServeFromConfig runs `appliance serve --config` on the keys and
// certificates a demo laid out, as the systemd unit would on a host.
func TestServeFromConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if r := initDemo(t, dir); r.code != 0 {
		t.Fatalf("demo init:\n%s", r)
	}
	module, err := softhsmtestdata.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "appliance.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(serveConfigTemplate, dir, module)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"SOFTHSM2_CONF=" + filepath.Join(dir, "softhsm2.conf")}
	s := startProcess(t, env, "serve", "--config", cfg)
	s.get(t, s.health, "ok\n")
	portal := s.waitLine(t, portalLine)
	_, root := s.fetch(t, portal+"/certs/root.pem")
	if want, _ := os.ReadFile(filepath.Join(dir, "pki", "root.pem")); string(root) != string(want) {
		t.Error("/certs/root.pem is not the configured pki_dir's root.pem")
	}
	_, der := s.fetch(t, portal+"/crl/issuing.crl")
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if got := crl.NextUpdate.Sub(crl.ThisUpdate); got != 96*time.Hour {
		t.Errorf("CRL lifetime %v, want the configured 96h", got)
	}
	// The TSA answers openssl's request with a token openssl verifies.
	data := filepath.Join(t.TempDir(), "document.txt")
	os.WriteFile(data, []byte("dokumen yang ditandatangani"), 0o600)
	query := filepath.Join(t.TempDir(), "q.tsq")
	if out, err := exec.Command("openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query).CombinedOutput(); err != nil {
		t.Fatalf("openssl ts -query: %v\n%s", err, out)
	}
	q, _ := os.ReadFile(query)
	resp, err := http.Post(portal+"/tsa", "application/timestamp-query", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tsr := filepath.Join(t.TempDir(), "r.tsr")
	os.WriteFile(tsr, reply, 0o600)
	out, err := exec.Command("openssl", "ts", "-verify", "-data", data, "-in", tsr, "-CAfile", filepath.Join(dir, "pki", "root.pem"),
		"-untrusted", filepath.Join(dir, "pki", "issuing.pem")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Errorf("openssl ts -verify of the served timestamp: %v\n%s", err, out)
	}
	// Through the admin socket of the running service.
	r := appliance(t, env, "cert", "show", "--state", dir, "--serial", "abcdef12")
	if r.code == 0 || !strings.Contains(r.stderr, "no such certificate") {
		t.Errorf("cert show through the served admin socket:\n%s", r)
	}
	s.stop(t)
	// With the service stopped, the CLI issues under the served settings.
	_, cert := issueCert(t, dir, "officer", newCSR(t, "Officer Later"), filepath.Join(t.TempDir(), "officer.pem"))
	if dp := cert.CRLDistributionPoints; len(dp) != 1 || dp[0] != "http://pki.example.test/crl/admin.crl" {
		t.Errorf("certificate issued while the service was stopped has CRL DP %v, want the configured base URL", dp)
	}
}

func TestServeConfigRefusals(t *testing.T) {
	module, _ := softhsmtestdata.ModulePath()
	dir := t.TempDir()
	good := fmt.Sprintf(serveConfigTemplate, dir, module)
	tests := map[string]struct{ text, want string }{
		"unknown key":        {good + "extra: 1\n", "field extra not found"},
		"relative state dir": {strings.Replace(good, "state_dir: "+dir, "state_dir: state", 1), `state_dir: "state" is not an absolute path`},
		"PIN in the file":    {strings.Replace(good, "pin: file:"+dir+"/pins/ca", "pin: 123456", 1), "hsm.pin: use file:/path or env:NAME"},
		"bad policy OID":     {strings.Replace(good, "2.16.360.1.99999.1.1", "policy", 1), "policy_oid:"},
		"long CRL lifetime":  {strings.Replace(good, "96h", "720h", 1), "crl_lifetime"},
		"second document":    {good + "---\nstate_dir: /x\n", "more than one YAML document"},
		"no invoice amount":  {strings.Replace(good, "amount: 250000", "amount: 0", 1), "workflow.invoice: invoice: the amount must be positive"},
		"three approvals":    {strings.Replace(good, "workflow:\n", "workflow:\n  ra_approvals: 3\n", 1), "workflow.ra_approvals: 3"},
		"no SMTP server":     {strings.Replace(good, "addr: 127.0.0.1:1", "addr: ''", 1), "notify.smtp:"},
		"no SMS gateway":     {strings.Replace(good, "url: http://127.0.0.1:1/send", "url: ''", 1), "notify.sms:"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "appliance.yaml")
			if err := os.WriteFile(cfg, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			r := appliance(t, nil, "serve", "--config", cfg)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want exit 1 saying %q:\n%s", tc.want, r)
			}
			if strings.Contains(r.stderr, "123456") {
				t.Errorf("the error repeats the PIN:\n%s", r)
			}
		})
	}
}
