package ceremony_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca/ceremony"
	"github.com/psre/appliance/hsm"
)

const csrYAML = `type: csr
hsm:
  module: {{.Module}}
  pins:
    ca: file:{{.Pins}}/ca
key:
  uri: pkcs11:token=ca;object=national-issuing
  algorithm: ecdsa-p384
  generate: true
csr:
  subject:
    country: ID
    organization: PT Uji Sertifikasi
    common_name: Uji PSrE Issuing CA
outputs:
  csr: issuing.csr
transcript: transcript.jsonl
`

const importYAML = `type: import
hsm:
  module: {{.Module}}
  pins:
    ca: file:{{.Pins}}/ca
key:
  uri: pkcs11:token=ca;object=national-issuing
  algorithm: ecdsa-p384
import:
  certificate: {{.PKI}}/signed.pem
  issuer_certificate: {{.PKI}}/national-root.pem
  store_on_token: STORE
outputs:
  certificate: issuing.pem
transcript: transcript.jsonl
`

// goCA is an in-memory CA standing in for the external (national) root.
type goCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newGoCA(t *testing.T, cn string) *goCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"Kementerian Uji"}, CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(20, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &goCA{cert: cert, key: key}
}

// issueCA certifies pub as a subordinate CA with path length 0.
func (ca *goCA) issueCA(t *testing.T, pub crypto.PublicKey, subject pkix.Name) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestCSRAndImport makes a CSR for an HSM key, has an in-memory "national
// root" certify it, and imports the answer; wrong answers are refused.
func TestCSRAndImport(t *testing.T) {
	f := newFixture(t, "ca")
	ctx := context.Background()
	csrRes := f.mustRun("csr.yaml", csrYAML)
	csrPath := filepath.Join(f.pki, "issuing.csr")

	out := openssl(t, "req", "-in", csrPath, "-verify", "-noout", "-subject")
	if !strings.Contains(out, "verify OK") || !strings.Contains(out, "CN = Uji PSrE Issuing CA") || !strings.Contains(out, "C = ID") {
		t.Errorf("openssl req -verify: %s", out)
	}
	csr, err := x509.ParseCertificateRequest(readDER(t, csrPath, "CERTIFICATE REQUEST"))
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil || csr.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Errorf("CSR signature %s: %v", csr.SignatureAlgorithm, err)
	}
	var tokenPub crypto.PublicKey
	f.withToken("ca", func(tok *hsm.Token) {
		s, err := tok.Signer(ctx, csrRes.KeyURI)
		if err != nil {
			t.Fatal(err)
		}
		tokenPub = s.Public()
	})
	if !csr.PublicKey.(*ecdsa.PublicKey).Equal(tokenPub) {
		t.Fatal("the CSR's public key is not the token key's")
	}
	if want := map[string]string{csrPath: sha256hex(csr.Raw)}; !reflect.DeepEqual(csrRes.Outputs, want) {
		t.Errorf("outputs %v, want %v", csrRes.Outputs, want)
	}

	national, other := newGoCA(t, "Uji Root CA Nasional"), newGoCA(t, "Uji Root CA Lain")
	writePEM(t, filepath.Join(f.pki, "national-root.pem"), "CERTIFICATE", national.cert.Raw)
	writePEM(t, filepath.Join(f.pki, "other-root.pem"), "CERTIFICATE", other.cert.Raw)
	signed := national.issueCA(t, csr.PublicKey, csr.Subject)
	writePEM(t, filepath.Join(f.pki, "signed.pem"), "CERTIFICATE", signed)
	stranger, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(f.pki, "wrong-key.pem"), "CERTIFICATE", national.issueCA(t, stranger.Public(), csr.Subject))

	refusals := []struct {
		name    string
		edits   []string
		invalid bool // refused by validation (ErrInvalidConfig), before the transcript
		want    string
	}{
		{"signed by another issuer", []string{"national-root.pem", "other-root.pem"}, true, "not signed by"},
		{"certificate for another key", []string{"signed.pem", "wrong-key.pem"}, false, "is not for key"},
		{"a CSR instead of a certificate", []string{"{{.PKI}}/signed.pem", "{{.PKI}}/issuing.csr"}, true, `"CERTIFICATE REQUEST" block`},
		{"generate set", []string{"  algorithm: ecdsa-p384\n", "  algorithm: ecdsa-p384\n  generate: true\n"}, true, "set generate: false"},
		{"another algorithm", []string{"algorithm: ecdsa-p384", "algorithm: rsa-3072"}, false, "is ecdsa-p384, the config says rsa-3072"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := f.objects("ca")
			dir := t.TempDir()
			_, out, err := f.runIn(dir, "import.yaml", edit(t, edit(t, importYAML, "STORE", "true"), tc.edits...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error about %q, got %v\n%s", tc.want, err, out)
			}
			if errors.Is(err, ceremony.ErrInvalidConfig) != tc.invalid {
				t.Errorf("errors.Is(ErrInvalidConfig) = %v, want %v: %v", !tc.invalid, tc.invalid, err)
			}
			mustNotExist(t, filepath.Join(dir, "issuing.pem"))
			if tc.invalid {
				mustNotExist(t, filepath.Join(dir, "transcript.jsonl"))
			}
			if after := f.objects("ca"); after != before {
				t.Errorf("token objects changed:\n%s\n---\n%s", before, after)
			}
		})
	}

	// The import itself, also storing the certificate beside the key.
	before := f.labels("ca")
	res := f.mustRun("import.yaml", edit(t, importYAML, "STORE", "true"))
	outPath := filepath.Join(f.pki, "issuing.pem")
	got := readDER(t, outPath, "CERTIFICATE")
	if string(got) != string(signed) {
		t.Error("the written certificate is not the one the external CA signed")
	}
	if want := map[string]string{outPath: sha256hex(signed)}; !reflect.DeepEqual(res.Outputs, want) {
		t.Errorf("outputs %v, want %v", res.Outputs, want)
	}
	if res.KeyURI.Object != "national-issuing" || len(res.KeyURI.ID) != 16 {
		t.Errorf("key URI %s", res.KeyURI)
	}
	if out := openssl(t, "verify", "-CAfile", filepath.Join(f.pki, "national-root.pem"), outPath); !strings.Contains(out, "issuing.pem: OK") {
		t.Errorf("openssl verify: %s", out)
	}
	wantLabels := append(append([]string(nil), before...), "Certificate Object national-issuing")
	sort.Strings(wantLabels)
	if after := f.labels("ca"); !reflect.DeepEqual(after, wantLabels) {
		t.Errorf("token objects after import with store_on_token: %v, want %v", after, wantLabels)
	}
	data, err := os.ReadFile(filepath.Join(f.pki, "import.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var mine []ceremony.Entry
	for _, e := range readTranscript(t, filepath.Join(f.pki, "transcript.jsonl")) {
		if e.ConfigSHA256 == sha256hex(data) {
			mine = append(mine, e)
		}
	}
	if got, want := steps(mine), []string{"validated", "login", "use_key", "check_certificate", "store_on_token", "write_output", "done"}; !reflect.DeepEqual(got, want) {
		t.Errorf("import steps %v, want %v", got, want)
	}
}
