package ceremony_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"text/template"

	"github.com/psre/appliance/ca/ceremony"
	"github.com/psre/appliance/hsm"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

const tsaYAML = `type: tsa
hsm:
  module: {{.Module}}
  pins:
    ca: file:{{.Pins}}/ca
issuer:
  uri: pkcs11:token=ca;object=issuing-ca
  certificate: {{.PKI}}/sub.pem
key:
  uri: pkcs11:token=ca;object=tsa
  algorithm: ecdsa-p256
  generate: true
certificate:
  subject:
    country: ID
    organization: PT Uji Sertifikasi
    common_name: Uji TSA G1
  validity_days: 730
  crl_url: http://pki.example.test/crl/issuing.crl
outputs:
  certificate: tsa.pem
transcript: transcript.jsonl
`

// runEmbedded renders the embedded example ceremonies names into the
// layout `appliance demo` uses (ceremonies/, pins/, pki/ side by side) and
// runs them in order.
func runEmbedded(t *testing.T, f *fixture, names ...string) string {
	t.Helper()
	base := f.env.Dir // holds pins/
	for _, d := range []string{"ceremonies", "pki"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		raw, err := fs.ReadFile(softhsmtestdata.Ceremonies(), name)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		tmpl := template.Must(template.New(name).Option("missingkey=error").Parse(string(raw)))
		if err := tmpl.Execute(&b, struct{ Module string }{f.module}); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(base, "ceremonies", name)
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := ceremony.Run(context.Background(), path, ceremony.Options{Out: &out}); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out.String())
		}
	}
	return filepath.Join(base, "pki")
}

// TestTSACeremonyExample runs the example ceremonies 01 (root), 02
// (issuing CA) and 09 (TSA) and checks the TSA certificate with openssl and
// crypto/x509: critical id-kp-timeStamping alone, critical digitalSignature,
// the HSM key, within the issuer's life.
func TestTSACeremonyExample(t *testing.T) {
	f := newFixture(t, "root", "ca")
	pki := runEmbedded(t, f, "01-root.yaml", "02-issuing.yaml", "09-tsa.yaml")
	rootPath, issuingPath, tsaPath := filepath.Join(pki, "root.pem"), filepath.Join(pki, "issuing.pem"), filepath.Join(pki, "tsa.pem")

	for _, purpose := range []string{"timestampsign", "any"} {
		out := openssl(t, "verify", "-x509_strict", "-purpose", purpose, "-CAfile", rootPath, "-untrusted", issuingPath, tsaPath)
		if !strings.Contains(out, "tsa.pem: OK") {
			t.Errorf("openssl verify -purpose %s: %s", purpose, out)
		}
	}
	issuing, tsa := readCert(t, issuingPath), readCert(t, tsaPath)
	if err := tsa.CheckSignatureFrom(issuing); err != nil {
		t.Error(err)
	}
	checkSerial(t, "tsa", tsa)
	if tsa.IsCA || !tsa.BasicConstraintsValid {
		t.Errorf("basic constraints: CA %v valid %v; want CA:FALSE", tsa.IsCA, tsa.BasicConstraintsValid)
	}
	if tsa.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %b, want digitalSignature", tsa.KeyUsage)
	}
	if !reflect.DeepEqual(tsa.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}) || len(tsa.UnknownExtKeyUsage) != 0 {
		t.Errorf("EKU %v %v, want timeStamping only", tsa.ExtKeyUsage, tsa.UnknownExtKeyUsage)
	}
	critical := map[string]bool{}
	for _, e := range tsa.Extensions {
		critical[e.Id.String()] = e.Critical
	}
	if !critical["2.5.29.37"] || !critical["2.5.29.15"] {
		t.Errorf("extendedKeyUsage critical %v, keyUsage critical %v: want both critical", critical["2.5.29.37"], critical["2.5.29.15"])
	}
	if _, ok := critical["1.3.6.1.5.5.7.48.1.5"]; ok {
		t.Error("a TSA certificate carries ocsp-nocheck")
	}
	if !reflect.DeepEqual(tsa.CRLDistributionPoints, []string{"http://127.0.0.1:8080/crl/issuing.crl"}) ||
		!reflect.DeepEqual(tsa.IssuingCertificateURL, []string{"http://127.0.0.1:8080/certs/issuing.der"}) {
		t.Errorf("CRL DP %v, caIssuers %v", tsa.CRLDistributionPoints, tsa.IssuingCertificateURL)
	}
	if !bytes.Equal(tsa.AuthorityKeyId, issuing.SubjectKeyId) || !bytes.Equal(tsa.SubjectKeyId, skiOf(t, tsa)) {
		t.Errorf("AKI %x (issuer SKI %x), SKI %x", tsa.AuthorityKeyId, issuing.SubjectKeyId, tsa.SubjectKeyId)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(readCert(t, rootPath))
	inter.AddCert(issuing)
	_, err := tsa.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
	t.Logf("crypto/x509 with EKU nesting, issuing CA EKUs %v %v: %v", issuing.ExtKeyUsage, issuing.UnknownExtKeyUsage, err)
	if tsa.Subject.CommonName != "Contoh PSrE TSA G1" || tsa.NotAfter.After(issuing.NotAfter) {
		t.Errorf("subject %s, notAfter %s (issuer %s)", tsa.Subject, tsa.NotAfter, issuing.NotAfter)
	}
	f.withToken("ca", func(tok *hsm.Token) {
		uri := hsm.URI{Token: "ca", Object: "tsa"}
		s, err := tok.Signer(context.Background(), uri)
		if err != nil {
			t.Fatal(err)
		}
		if pub, ok := s.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() || !pub.Equal(tsa.PublicKey) {
			t.Errorf("the certificate's key is not the P-256 key tsa on token ca")
		}
		if a, err := tok.Attributes(context.Background(), uri); err != nil || !a.Protected() {
			t.Errorf("TSA key not protected: %+v %v", a, err)
		}
	})
	text := openssl(t, "x509", "-in", tsaPath, "-noout", "-text")
	for _, w := range []string{"X509v3 Extended Key Usage: critical", "Time Stamping", "X509v3 Key Usage: critical", "Digital Signature", "CA:FALSE"} {
		if !strings.Contains(text, w) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", w, text)
		}
	}
	entries := readTranscript(t, filepath.Join(f.env.Dir, "transcript.jsonl"))
	var last []string
	for _, e := range entries {
		if e.Ceremony == ceremony.TypeTSA {
			last = append(last, e.Step)
		}
	}
	want := []string{"validated", "login", "prelint", "generate_key", "check_attributes", "lint", "hsm_sign", "verify", "certificate", "write_output", "done"}
	if !reflect.DeepEqual(last, want) {
		t.Errorf("tsa transcript steps %v, want %v", last, want)
	}
}

// TestTSAEKUChaining: verifiers that nest extended key usages (crypto/x509,
// Windows, NSS) accept the TSA chain when the issuing CA lists timeStamping
// beside documentSigning. (With documentSigning alone, as in the example
// 02-issuing.yaml, they refuse it; openssl does not nest EKUs.)
func TestTSAEKUChaining(t *testing.T) {
	f := newFixture(t, "root", "ca")
	f.mustRun("root.yaml", rootYAML)
	f.mustRun("sub.yaml", edit(t, subYAML, "[documentSigning]", "[documentSigning, timeStamping]"))
	f.mustRun("tsa.yaml", tsaYAML)
	root, sub, tsa := readCert(t, filepath.Join(f.pki, "root.pem")), readCert(t, filepath.Join(f.pki, "sub.pem")), readCert(t, filepath.Join(f.pki, "tsa.pem"))
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inter.AddCert(sub)
	if _, err := tsa.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		t.Errorf("crypto/x509 refuses the TSA chain under a CA listing timeStamping: %v", err)
	}
}

// TestTSAInvalidConfigs: tsa configs refused by validation, with nothing
// created.
func TestTSAInvalidConfigs(t *testing.T) {
	f := newFixture(t, "root", "ca")
	f.mustRun("root.yaml", rootYAML)
	f.mustRun("sub.yaml", subYAML)
	f.mustRun("ocsp.yaml", ocspYAML)
	tokens := map[string]string{"root": f.objects("root"), "ca": f.objects("ca")}
	files := snapshot(t, f.pki)
	tests := []invalidCase{
		{name: "unknown field", base: tsaYAML, edits: []string{"  validity_days: 730\n", "  validity_days: 730\n  accuracy: 1s\n"}, want: []string{"field accuracy not found"}},
		{name: "validity over the limit", base: tsaYAML, edits: []string{"validity_days: 730", "validity_days: 4101"}, want: []string{"4101 is over the tsa limit of 4100 days"}},
		{name: "outlives its issuer", base: tsaYAML, edits: []string{"validity_days: 730", "validity_days: 3700"}, want: []string{"would outlive its issuer"}},
		{name: "path_length", base: tsaYAML, edits: []string{"  validity_days: 730\n", "  validity_days: 730\n  path_length: 0\n"}, want: []string{"a TSA certificate is not a CA"}},
		{name: "ext_key_usages", base: tsaYAML, edits: []string{"  validity_days: 730\n", "  validity_days: 730\n  ext_key_usages: [timeStamping]\n"}, want: []string{"fixed extended key usage"}},
		{name: "missing crl_url", base: tsaYAML, edits: []string{"  crl_url: http://pki.example.test/crl/issuing.crl\n", ""}, want: []string{"certificate.crl_url: missing"}},
		{name: "crl_url not http", base: tsaYAML, edits: []string{"http://pki.example.test/crl/issuing.crl", "ldap://pki.example.test/crl"}, want: []string{"not an absolute http(s) URL"}},
		{name: "aes key", base: tsaYAML, edits: []string{"ecdsa-p256", "aes-256"}, want: []string{"aes-256 is a secret-key algorithm"}},
		{name: "no issuer", base: tsaYAML, edits: []string{"issuer:\n  uri: pkcs11:token=ca;object=issuing-ca\n  certificate: {{.PKI}}/sub.pem\n", ""}, want: []string{"issuer: missing: a tsa ceremony needs it"}},
		{name: "issuer not a CA", base: tsaYAML, edits: []string{"{{.PKI}}/sub.pem", "{{.PKI}}/ocsp.pem"}, want: []string{"is not a CA certificate"}},
		{name: "csr output", base: tsaYAML, edits: []string{"  certificate: tsa.pem\n", "  certificate: tsa.pem\n  csr: tsa.csr\n"}, want: []string{"outputs.csr: a tsa ceremony does not write one"}},
		{name: "existing output", base: tsaYAML, edits: []string{"  certificate: tsa.pem\n", "  certificate: {{.PKI}}/ocsp.pem\n"}, want: []string{"already exists"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, out, err := f.runIn(dir, "tsa.yaml", edit(t, tc.base, tc.edits...))
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			if !errors.Is(err, ceremony.ErrInvalidConfig) {
				t.Errorf("error does not wrap ErrInvalidConfig: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 || out != "" {
				t.Errorf("%d files beside the config, progress %q", len(entries), out)
			}
		})
	}
	if got := snapshot(t, f.pki); !reflect.DeepEqual(got, files) {
		t.Errorf("PKI files changed")
	}
	for label, before := range tokens {
		if f.objects(label) != before {
			t.Errorf("token %s objects changed", label)
		}
	}
}
