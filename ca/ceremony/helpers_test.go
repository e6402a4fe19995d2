package ceremony_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"text/template"

	"github.com/psre/appliance/ca/ceremony"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

// fixture is one test's SoftHSM with initialised tokens and a directory
// (PKI) that the set-up ceremonies write their outputs to.
type fixture struct {
	t      *testing.T
	env    *hsmtest.Env
	module string
	pki    string
}

// newFixture makes a fresh SoftHSM with the given tokens, each with a PIN
// file at env.Dir/pins/LABEL.
func newFixture(t *testing.T, tokens ...string) *fixture {
	t.Helper()
	env := hsmtest.New(t)
	module, err := softhsmtestdata.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range tokens {
		env.InitToken(t, l)
	}
	return &fixture{t: t, env: env, module: module, pki: t.TempDir()}
}

// render fills {{.Module}}, {{.Pins}} (the PIN file directory) and {{.PKI}}
// in a ceremony config.
func (f *fixture) render(text string) string {
	f.t.Helper()
	tmpl, err := template.New("config").Option("missingkey=error").Parse(text)
	if err != nil {
		f.t.Fatalf("config template: %v", err)
	}
	var b bytes.Buffer
	data := map[string]string{"Module": f.module, "Pins": filepath.Join(f.env.Dir, "pins"), "PKI": f.pki}
	if err := tmpl.Execute(&b, data); err != nil {
		f.t.Fatalf("config template: %v", err)
	}
	return b.String()
}

// writeConfig renders text into dir/name and returns the path.
func (f *fixture) writeConfig(dir, name, text string) string {
	f.t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(f.render(text)), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// runIn writes the config into dir and runs the ceremony. Relative paths
// in the config (outputs, transcript) resolve against dir.
func (f *fixture) runIn(dir, name, text string) (*ceremony.Result, string, error) {
	f.t.Helper()
	path := f.writeConfig(dir, name, text)
	var out bytes.Buffer
	res, err := ceremony.Run(context.Background(), path, ceremony.Options{Out: &out})
	return res, out.String(), err
}

// mustRun runs a ceremony in the PKI directory and fails the test on error.
func (f *fixture) mustRun(name, text string) *ceremony.Result {
	f.t.Helper()
	res, out, err := f.runIn(f.pki, name, text)
	if err != nil {
		f.t.Fatalf("%s: %v\nprogress:\n%s", name, err, out)
	}
	return res
}

// pin reads the user PIN of token label from its PIN file.
func (f *fixture) pin(label string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.env.Dir, "pins", label))
	if err != nil {
		f.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// objects lists the token's objects with OpenSC's pkcs11-tool, logged in
// (the PIN goes through the environment, never argv).
func (f *fixture) objects(label string) string {
	f.t.Helper()
	cmd := exec.Command("pkcs11-tool", "--module", f.module, "--token-label", label,
		"--login", "--pin", "env:CEREMONY_TEST_PIN", "--list-objects")
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+f.env.ConfPath, "CEREMONY_TEST_PIN="+f.pin(label))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		f.t.Fatalf("pkcs11-tool --list-objects on %s: %v\n%s", label, err, stderr.String())
	}
	return stdout.String()
}

// labels returns the sorted "kind label" pairs of the token's objects, e.g.
// "Private Key Object root-ca".
func (f *fixture) labels(label string) []string {
	f.t.Helper()
	var out []string
	kind := ""
	for _, line := range strings.Split(f.objects(label), "\n") {
		switch {
		case strings.Contains(line, " Object;"):
			kind, _, _ = strings.Cut(line, ";")
		case strings.HasPrefix(strings.TrimSpace(line), "label:") && kind != "":
			out = append(out, kind+" "+strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "label:")))
			kind = ""
		}
	}
	sort.Strings(out)
	return out
}

// withToken opens token label through the hsm package for the duration of
// fn only, so that no session is left open while a ceremony runs.
func (f *fixture) withToken(label string, fn func(*hsm.Token)) {
	f.t.Helper()
	tok, err := f.env.Module.OpenToken(context.Background(), hsm.URI{Token: label}, f.pin(label), hsm.TokenOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	defer tok.Close()
	fn(tok)
}

// keyLabelAbsent checks through the hsm package that no key pair or secret
// key is labelled object on the token.
func (f *fixture) keyLabelAbsent(token, object string) {
	f.t.Helper()
	f.withToken(token, func(tok *hsm.Token) {
		_, err := tok.Attributes(context.Background(), hsm.URI{Token: token, Object: object})
		if !errors.Is(err, hsm.ErrKeyNotFound) {
			f.t.Fatalf("key %s on token %s: want ErrKeyNotFound, got %v", object, token, err)
		}
	})
}

// snapshot maps each file under dir to the SHA-256 of its contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = sha256hex(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: want no such file, got %v", path, err)
	}
}

// readDER reads a PEM file of the given type (or raw DER) and returns DER.
func readDER(t *testing.T, path, pemType string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return data
	}
	if block.Type != pemType || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s: PEM block %q with %d trailing bytes, want one %q block", path, block.Type, len(rest), pemType)
	}
	return block.Bytes
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(readDER(t, path, "CERTIFICATE"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func writePEM(t *testing.T, path, pemType string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openssl runs the openssl command line tool and returns stdout and
// stderr together; it fails the test if openssl exits non-zero.
func openssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// readTranscript parses a JSON-lines transcript.
func readTranscript(t *testing.T, path string) []ceremony.Entry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []ceremony.Entry
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var e ceremony.Entry
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("transcript line %d %q: %v", i+1, line, err)
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"time", "ceremony", "step", "config_sha256"} {
			if v, ok := raw[k].(string); !ok || v == "" {
				t.Errorf("transcript line %d lacks %q: %s", i+1, k, line)
			}
		}
		out = append(out, e)
	}
	return out
}

func steps(entries []ceremony.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Step
	}
	return out
}

// The base configs. {{.PKI}} holds the set-up ceremonies' outputs; the
// outputs and the transcript are relative to the config's directory.
const rootYAML = `type: root
hsm:
  module: {{.Module}}
  pins:
    root: file:{{.Pins}}/root
key:
  uri: pkcs11:token=root;object=root-ca
  algorithm: ecdsa-p384
  generate: true
certificate:
  subject:
    country: ID
    organization: PT Uji Sertifikasi
    common_name: Uji Root CA G1
  validity_days: 9132
outputs:
  certificate: root.pem
transcript: transcript.jsonl
`

const subYAML = `type: subordinate
hsm:
  module: {{.Module}}
  pins:
    root: file:{{.Pins}}/root
    ca: file:{{.Pins}}/ca
issuer:
  uri: pkcs11:token=root;object=root-ca
  certificate: {{.PKI}}/root.pem
key:
  uri: pkcs11:token=ca;object=issuing-ca
  algorithm: ecdsa-p384
  generate: true
certificate:
  subject:
    country: ID
    organization: PT Uji Sertifikasi
    common_name: Uji Issuing CA G1
  validity_days: 3652
  path_length: 0
  policies: [2.16.360.1.99999.1.1]
  cps_uri: http://pki.example.test/cps
  crl_url: http://pki.example.test/crl/root.crl
  issuer_url: http://pki.example.test/certs/root.der
  ext_key_usages: [documentSigning]
outputs:
  certificate: sub.pem
transcript: transcript.jsonl
`

const ocspYAML = `type: ocsp-signer
hsm:
  module: {{.Module}}
  pins:
    ca: file:{{.Pins}}/ca
issuer:
  uri: pkcs11:token=ca;object=issuing-ca
  certificate: {{.PKI}}/sub.pem
key:
  uri: pkcs11:token=ca;object=ocsp
  algorithm: ecdsa-p256
  generate: true
certificate:
  subject:
    country: ID
    organization: PT Uji Sertifikasi
    common_name: Uji Issuing CA G1 OCSP Responder
  validity_days: 90
outputs:
  certificate: ocsp.pem
transcript: transcript.jsonl
`

const crlYAML = `type: crl
hsm:
  module: {{.Module}}
  pins:
    root: file:{{.Pins}}/root
issuer:
  uri: pkcs11:token=root;object=root-ca
  certificate: {{.PKI}}/root.pem
crl:
  number: 1
  next_update_days: 365
  revoked:
    - serial: "0123456789abcdef01"
      revoked_at: 2026-01-02T03:04:05Z
      reason: keyCompromise
outputs:
  crl: root.crl
transcript: transcript.jsonl
`

// edit replaces the one occurrence of old in s with new, failing the test
// if old does not occur exactly once (so a stale edit cannot pass silently).
func edit(t *testing.T, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if n := strings.Count(s, pairs[i]); n != 1 {
			t.Fatalf("edit: %q occurs %d times in the config, want once", pairs[i], n)
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}
