package ceremony_test

import (
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
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca/ceremony"
)

const keyYAML = `type: key
hsm:
  module: {{.Module}}
  pins:
    ca: file:{{.Pins}}/ca
key:
  uri: pkcs11:token=ca;object=audit
  algorithm: ecdsa-p256
  generate: true
outputs:
  public_key: audit.pub.pem
transcript: transcript.jsonl
`

// invalidCase is a config that must be refused before anything is created.
// The config is base with edits applied (pairs of old, new), or text.
type invalidCase struct {
	name  string
	base  string
	edits []string
	text  string
	want  []string
}

// Edits that point a subordinate config at another issuer on token ca
// (which then needs no PIN for token root).
func underIssuer(object, cert string) []string {
	return []string{
		"object=issuing-ca", "object=sub-new",
		"    root: file:{{.Pins}}/root\n", "",
		"  uri: pkcs11:token=root;object=root-ca\n", "  uri: pkcs11:token=ca;object=" + object + "\n",
		"{{.PKI}}/root.pem", "{{.PKI}}/" + cert,
		"validity_days: 3652", "validity_days: 3000", // within the issuer's life
	}
}

var invalidCases = []invalidCase{
	// Load: strict YAML.
	{name: "unknown key field", base: rootYAML, edits: []string{"  generate: true\n", "  generate: true\n  extractable: true\n"},
		want: []string{"field extractable not found"}},
	{name: "unknown top-level field", base: rootYAML, edits: []string{"transcript: transcript.jsonl\n", "transcript: transcript.jsonl\nnotes: hello\n"},
		want: []string{"field notes not found"}},
	{name: "trailing second document", text: rootYAML + "---\ntype: root\n", want: []string{"more than one YAML document"}},
	{name: "empty file", text: "", want: []string{"the file is empty"}},
	{name: "comments only", text: "# a ceremony\n", want: []string{"empty"}},
	{name: "not a mapping", text: "- type: root\n", want: []string{"cannot unmarshal"}},

	// Type and sections.
	{name: "missing type", base: rootYAML, edits: []string{"type: root\n", ""}, want: []string{"type is missing"}},
	{name: "unknown type", base: rootYAML, edits: []string{"type: root\n", "type: intermediate\n"}, want: []string{`unknown type "intermediate"`}},
	{name: "crl section in a root ceremony", base: rootYAML,
		edits: []string{"transcript: transcript.jsonl\n", "transcript: transcript.jsonl\ncrl:\n  number: 1\n  next_update_days: 30\n"},
		want:  []string{"crl: not used by a root ceremony"}},
	{name: "subordinate without key section", base: subYAML,
		edits: []string{"key:\n  uri: pkcs11:token=ca;object=issuing-ca\n  algorithm: ecdsa-p384\n  generate: true\n", ""},
		want:  []string{"key: missing: a subordinate ceremony needs it"}},
	{name: "key section in a crl ceremony", base: crlYAML,
		edits: []string{"crl:\n", "key:\n  uri: pkcs11:token=root;object=root-ca\ncrl:\n"}, want: []string{"key: not used by a crl ceremony"}},

	// Keys.
	{name: "curve ecdsa-p521", base: rootYAML, edits: []string{"ecdsa-p384", "ecdsa-p521"}, want: []string{`unknown key algorithm "ecdsa-p521"`}},
	{name: "aes-256 for a root", base: rootYAML, edits: []string{"ecdsa-p384", "aes-256"}, want: []string{"aes-256 is a secret-key algorithm"}},
	{name: "ecdsa-p256 for a root", base: rootYAML, edits: []string{"ecdsa-p384", "ecdsa-p256"}, want: []string{"root CA key should be ecdsa-p384 or rsa-3072"}},
	{name: "generated key without algorithm", base: rootYAML, edits: []string{"  algorithm: ecdsa-p384\n", ""}, want: []string{"key.algorithm: missing"}},
	{name: "missing key.uri", base: rootYAML, edits: []string{"  uri: pkcs11:token=root;object=root-ca\n", ""}, want: []string{"key.uri:", "pkcs11:"}},
	{name: "key.uri without object", base: rootYAML, edits: []string{";object=root-ca", ""}, want: []string{"has no object=LABEL"}},
	{name: "id= on a key to generate", base: rootYAML, edits: []string{"object=root-ca", "object=root-ca;id=%01%02"}, want: []string{"id= cannot be chosen"}},
	{name: "key ceremony that does not generate", base: keyYAML, edits: []string{"generate: true", "generate: false"}, want: []string{"set generate: true"}},
	{name: "public key output for an AES key", base: keyYAML, edits: []string{"ecdsa-p256", "aes-256"}, want: []string{"an AES key has no public half"}},

	// Validity.
	{name: "root validity over the limit", base: rootYAML, edits: []string{"9132", "9133"}, want: []string{"9133 is over the root limit of 9132 days"}},
	{name: "zero validity", base: rootYAML, edits: []string{"9132", "0"}, want: []string{"validity_days: missing or not positive"}},
	{name: "subordinate validity over the limit", base: subYAML, edits: []string{"3652", "5480"}, want: []string{"5480 is over the subordinate limit of 5479 days"}},
	{name: "ocsp-signer validity over the limit", base: ocspYAML, edits: []string{"validity_days: 90", "validity_days: 91"}, want: []string{"91 is over the ocsp-signer limit of 90 days"}},
	{name: "bad not_before", base: rootYAML, edits: []string{"  validity_days: 9132\n", "  validity_days: 9132\n  not_before: 2026-13-01\n"}, want: []string{"not an RFC 3339 time"}},
	{name: "subordinate outlives its issuer", base: subYAML, edits: []string{"  path_length: 0\n", "  path_length: 0\n  not_before: 2045-01-01T00:00:00Z\n"}, want: []string{"would outlive its issuer"}},
	{name: "subordinate before its issuer", base: subYAML, edits: []string{"  path_length: 0\n", "  path_length: 0\n  not_before: 2026-01-01T00:00:00Z\n"}, want: []string{"before the issuer's notBefore"}},

	// Path length.
	{name: "path_length on a root", base: rootYAML, edits: []string{"  validity_days: 9132\n", "  validity_days: 9132\n  path_length: 1\n"}, want: []string{"a root carries no path length"}},
	{name: "path_length missing on a subordinate", base: subYAML, edits: []string{"  path_length: 0\n", ""}, want: []string{"certificate.path_length: missing"}},
	{name: "path_length over the maximum", base: subYAML, edits: []string{"path_length: 0", "path_length: 6"}, want: []string{"6 is outside 0..5"}},
	{name: "path_length negative", base: subYAML, edits: []string{"path_length: 0", "path_length: -1"}, want: []string{"-1 is outside 0..5"}},
	{name: "subordinate under a path_length 0 issuer", base: subYAML, edits: underIssuer("issuing-ca", "sub.pem"),
		want: []string{"the issuer has path length 0 and cannot sign a CA"}},
	{name: "path_length equal to the issuer's", base: subYAML, edits: append(underIssuer("sub1", "sub1.pem"), "path_length: 0", "path_length: 1"),
		want: []string{"1 must be less than the issuer's path length 1"}},
	{name: "path_length on an ocsp-signer", base: ocspYAML, edits: []string{"  validity_days: 90\n", "  validity_days: 90\n  path_length: 0\n"}, want: []string{"not a CA: remove path_length"}},

	// Outputs.
	{name: "existing output file", base: rootYAML, edits: []string{"  certificate: root.pem\n", "  certificate: {{.PKI}}/root.pem\n"}, want: []string{"root.pem already exists"}},
	{name: "output directory missing", base: rootYAML, edits: []string{"  certificate: root.pem\n", "  certificate: no-such-dir/root.pem\n"}, want: []string{"no-such-dir does not exist"}},
	{name: "missing outputs.certificate", base: rootYAML, edits: []string{"outputs:\n  certificate: root.pem\n", "outputs: {}\n"}, want: []string{"outputs.certificate: missing"}},
	{name: "csr output in a root ceremony", base: rootYAML, edits: []string{"  certificate: root.pem\n", "  certificate: root.pem\n  csr: root.csr\n"}, want: []string{"outputs.csr: a root ceremony does not write one"}},
	{name: "certificate output in a key ceremony", base: keyYAML, edits: []string{"  public_key: audit.pub.pem\n", "  certificate: audit.pem\n"}, want: []string{"outputs.certificate: a key ceremony does not write one"}},
	{name: "missing transcript", base: rootYAML, edits: []string{"transcript: transcript.jsonl\n", ""}, want: []string{"transcript: missing"}},

	// Subject, module, PINs.
	{name: "missing subject.common_name", base: rootYAML, edits: []string{"    common_name: Uji Root CA G1\n", ""}, want: []string{"certificate.subject.common_name: missing"}},
	{name: "country not ISO 3166", base: rootYAML, edits: []string{"country: ID", "country: Indonesia"}, want: []string{"ISO 3166"}},
	{name: "missing hsm.module", base: rootYAML, edits: []string{"  module: {{.Module}}\n", ""}, want: []string{"hsm.module: missing"}},
	{name: "relative hsm.module", base: rootYAML, edits: []string{"{{.Module}}", "libsofthsm2.so"}, want: []string{"not an absolute path"}},
	{name: "hsm.module not a file", base: rootYAML, edits: []string{"{{.Module}}", "/nonexistent/libpkcs11.so"}, want: []string{"/nonexistent/libpkcs11.so is not a file"}},
	{name: "literal PIN", base: rootYAML, edits: []string{"root: file:{{.Pins}}/root", `root: "1234"`}, want: []string{"is not a PIN source", "never the PIN itself"}},
	{name: "PIN for an unused token", base: rootYAML, edits: []string{"    root: file:{{.Pins}}/root\n", "    root: file:{{.Pins}}/root\n    ca: file:{{.Pins}}/ca\n"},
		want: []string{`token "ca" is not used by this ceremony`}},
	{name: "missing PIN for a used token", base: subYAML, edits: []string{"    root: file:{{.Pins}}/root\n", ""}, want: []string{`no PIN source for token "root"`}},
	{name: "empty env PIN source", base: rootYAML, edits: []string{"file:{{.Pins}}/root", "'env:'"}, want: []string{"is not a PIN source"}},

	// Certificate profile fields.
	{name: "bad policy OID", base: subYAML, edits: []string{"[2.16.360.1.99999.1.1]", "[2.16.360.x]"}, want: []string{"certificate.policies[0]", "not a dotted OID"}},
	{name: "policy OID with a bad first arc", base: subYAML, edits: []string{"[2.16.360.1.99999.1.1]", "[1.40.5]"}, want: []string{"first arcs out of range"}},
	{name: "policy OID with one arc", base: subYAML, edits: []string{"[2.16.360.1.99999.1.1]", `["2"]`}, want: []string{"certificate.policies[0]"}},
	{name: "subordinate without crl_url", base: subYAML, edits: []string{"  crl_url: http://pki.example.test/crl/root.crl\n", ""}, want: []string{"crl_url: missing"}},
	{name: "cps_uri not http", base: subYAML, edits: []string{"http://pki.example.test/cps", "ftp://pki.example.test/cps"}, want: []string{"not an absolute http(s) URL"}},
	{name: "unknown extended key usage", base: subYAML, edits: []string{"[documentSigning]", "[anyUsage]"}, want: []string{`unknown "anyUsage"`}},
	{name: "root with a CRL URL", base: rootYAML, edits: []string{"  validity_days: 9132\n", "  validity_days: 9132\n  crl_url: http://pki.example.test/root.crl\n"},
		want: []string{"a root has no issuer to point at"}},
	{name: "ocsp-signer with policies", base: ocspYAML, edits: []string{"  validity_days: 90\n", "  validity_days: 90\n  policies: [2.16.360.1.99999.1.1]\n"}, want: []string{"fixed profile"}},
	{name: "issuer is not a CA", base: subYAML, edits: underIssuer("ocsp", "ocsp.pem"), want: []string{"ocsp.pem is not a CA certificate", "lacks the keyCertSign key usage"}},
	{name: "crl issuer without cRLSign", base: crlYAML,
		edits: []string{"root: file:{{.Pins}}/root", "ca: file:{{.Pins}}/ca", "token=root;object=root-ca", "token=ca;object=ocsp", "{{.PKI}}/root.pem", "{{.PKI}}/ocsp.pem"},
		want:  []string{"lacks the cRLSign key usage"}},
	{name: "issuer expired", base: subYAML, edits: []string{"{{.PKI}}/root.pem", "{{.PKI}}/expired.pem"}, want: []string{"expired.pem expired on 2021-01-01"}},
	{name: "issuer certificate missing", base: subYAML, edits: []string{"{{.PKI}}/root.pem", "{{.PKI}}/nope.pem"}, want: []string{"issuer.certificate:", "nope.pem"}},

	// CRLs.
	{name: "crl number equal to the previous", base: crlYAML, edits: []string{"  number: 1\n", "  number: 1\n  previous: {{.PKI}}/root.crl\n"},
		want: []string{"1 must be greater than the previous CRL's number 1"}},
	{name: "crl number after 1 without the previous CRL", base: crlYAML, edits: []string{"  number: 1\n", "  number: 4\n"},
		want: []string{"crl.previous: missing: CRL number 4 follows another"}},
	{name: "crl this_update before the previous", base: crlYAML, edits: []string{"  number: 1\n", "  number: 2\n  previous: {{.PKI}}/root.crl\n  this_update: 2026-01-02T00:00:00Z\n"},
		want: []string{"must not be earlier than the previous CRL's"}},
	{name: "previous is not a CRL", base: crlYAML, edits: []string{"  number: 1\n", "  number: 6\n  previous: {{.PKI}}/root.pem\n"}, want: []string{"crl.previous:"}},
	{name: "previous CRL of another CA", base: crlYAML,
		edits: []string{"root: file:{{.Pins}}/root", "ca: file:{{.Pins}}/ca", "token=root;object=root-ca", "token=ca;object=issuing-ca",
			"{{.PKI}}/root.pem", "{{.PKI}}/sub.pem", "  number: 1\n", "  number: 6\n  previous: {{.PKI}}/root.crl\n", "next_update_days: 365", "next_update_days: 7"},
		want: []string{"was not signed by the issuer"}},
	{name: "transcript directory missing", base: rootYAML, edits: []string{"transcript: transcript.jsonl", "transcript: no-such-dir/t.jsonl"},
		want: []string{"transcript: directory", "no-such-dir does not exist"}},
	{name: "output is the transcript", base: rootYAML, edits: []string{"  certificate: root.pem\n", "  certificate: transcript.jsonl\n"},
		want: []string{"the same file as the transcript"}},
	{name: "crl number zero", base: crlYAML, edits: []string{"number: 1", "number: 0"}, want: []string{"crl.number: missing or not positive"}},
	{name: "next_update_days over the limit", base: crlYAML, edits: []string{"next_update_days: 365", "next_update_days: 366"}, want: []string{"366 is outside 1..365"}},
	{name: "revoked reason unknown", base: crlYAML, edits: []string{"reason: keyCompromise", "reason: keyCompromized"}, want: []string{`"keyCompromized" is not an RFC 5280 reason`}},
	{name: "revoked serial not hex", base: crlYAML, edits: []string{`"0123456789abcdef01"`, `"xyz"`}, want: []string{`"xyz" is not a positive hex number`}},
	{name: "revoked serial zero", base: crlYAML, edits: []string{`"0123456789abcdef01"`, `"00"`}, want: []string{`"00" is not a positive hex number`}},
	{name: "revoked serial negative", base: crlYAML, edits: []string{`"0123456789abcdef01"`, `"-5"`}, want: []string{`"-5" is not a positive hex number`}},
	{name: "revoked serial listed twice", base: crlYAML,
		edits: []string{"      reason: keyCompromise\n", "      reason: keyCompromise\n    - serial: 0x0123456789ABCDEF01\n      revoked_at: 2026-01-02T03:04:05Z\n      reason: superseded\n"},
		want:  []string{"crl.revoked[1].serial", "listed twice"}},
	{name: "revoked_at after this_update", base: crlYAML, edits: []string{"  number: 1\n", "  number: 1\n  this_update: 2026-01-01T00:00:00Z\n"}, want: []string{"crl.revoked[0].revoked_at: after this_update"}},
	{name: "revoked_at missing", base: crlYAML, edits: []string{"      revoked_at: 2026-01-02T03:04:05Z\n", ""}, want: []string{"revoked_at: missing or not RFC 3339"}},

	// Every problem is reported at once.
	{name: "several problems", base: rootYAML, edits: []string{"ecdsa-p384", "ecdsa-p521", "9132", "9133", "root: file:{{.Pins}}/root", "root: '1234'"},
		want: []string{"ecdsa-p521", "over the root limit", "is not a PIN source"}},
}

// writeExpiredCA writes a self-signed CA certificate that expired in 2021.
func writeExpiredCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Expired CA"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "CERTIFICATE", der)
}

// TestInvalidConfigsCreateNothing runs every invalid config through
// ceremony.Run after a root, two subordinates and a CRL exist, and checks
// the refusal wraps ErrInvalidConfig, says what is wrong, and left no
// transcript, no output, no changed file and no new token object.
func TestInvalidConfigsCreateNothing(t *testing.T) {
	f := newFixture(t, "root", "ca")
	f.mustRun("root.yaml", rootYAML)
	f.mustRun("sub.yaml", subYAML) // path_length 0, key issuing-ca
	f.mustRun("sub1.yaml", edit(t, subYAML, "object=issuing-ca", "object=sub1", "path_length: 0", "path_length: 1", "sub.pem", "sub1.pem"))
	f.mustRun("crl.yaml", crlYAML) // number 1
	f.mustRun("ocsp.yaml", ocspYAML)
	writeExpiredCA(t, filepath.Join(f.pki, "expired.pem"))
	tokens := map[string]string{"root": f.objects("root"), "ca": f.objects("ca")}
	if !strings.Contains(tokens["ca"], "sub1") || !strings.Contains(tokens["root"], "root-ca") {
		t.Fatalf("set-up keys missing:\n%v", tokens)
	}
	files := snapshot(t, f.pki)

	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.text
			if tc.base != "" {
				text = edit(t, tc.base, tc.edits...)
			}
			dir := t.TempDir()
			res, out, err := f.runIn(dir, "config.yaml", text)
			if err == nil {
				t.Fatalf("accepted; result %+v", res)
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, ceremony.ErrInvalidConfig) {
				t.Errorf("error does not wrap ErrInvalidConfig: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if out != "" {
				t.Errorf("progress printed for a refused config:\n%s", out)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "config.yaml" {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("files created beside the config: %v", names)
			}
			if got := snapshot(t, f.pki); !reflect.DeepEqual(got, files) {
				t.Errorf("PKI files changed:\nbefore %v\nafter  %v", files, got)
			}
			for label, before := range tokens {
				if after := f.objects(label); after != before {
					t.Errorf("token %s objects changed:\nbefore:\n%s\nafter:\n%s", label, before, after)
				}
			}
		})
	}
}

// TestParseAndValidateDirectly checks Load/Parse/Validate without Run: the
// hash, path resolution and that Validate alone reports ErrInvalidConfig.
func TestParseAndValidateDirectly(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	path := f.writeConfig(dir, "root.yaml", rootYAML)
	cfg, err := ceremony.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hash() != sha256hex(data) {
		t.Errorf("Hash %s, want sha256 of the file %s", cfg.Hash(), sha256hex(data))
	}
	if cfg.Path() != path {
		t.Errorf("Path %q, want %q", cfg.Path(), path)
	}
	if want := []string{dir + "/root.pem"}; !reflect.DeepEqual(cfg.OutputPaths(), want) {
		t.Errorf("OutputPaths %v, want %v (relative to the config's directory)", cfg.OutputPaths(), want)
	}
	if cfg.Transcript != dir+"/transcript.jsonl" {
		t.Errorf("Transcript %q not resolved against the config's directory", cfg.Transcript)
	}
	if err := cfg.Validate(time.Now()); err != nil {
		t.Fatalf("valid root config refused: %v", err)
	}
	cfg.Certificate.ValidityDays = ceremony.MaxRootDays + 1
	if err := cfg.Validate(time.Now()); !errors.Is(err, ceremony.ErrInvalidConfig) {
		t.Errorf("Validate: want ErrInvalidConfig, got %v", err)
	}
	if _, err := ceremony.Parse([]byte("---\n" + string(data))); err != nil {
		t.Errorf("a leading document marker is refused: %v", err)
	}
	rel := f.writeConfig(dir, "rel.yaml", edit(t, rootYAML, "file:{{.Pins}}/root", "file:pins/root"))
	if cfg, err := ceremony.Load(rel); err != nil || cfg.HSM.PINs["root"] != "file:"+dir+"/pins/root" {
		t.Errorf("relative PIN file not resolved against the config's directory: %v %v", cfg, err)
	}
	if _, err := ceremony.Parse([]byte("type: root\ntype: key\n")); !errors.Is(err, ceremony.ErrInvalidConfig) {
		t.Errorf("duplicate key: want ErrInvalidConfig, got %v", err)
	}
	big := make([]byte, 1<<20+1)
	for i := range big {
		big[i] = '#'
	}
	if err := os.WriteFile(dir+"/big.yaml", big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ceremony.Load(dir + "/big.yaml"); !errors.Is(err, ceremony.ErrInvalidConfig) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: want ErrInvalidConfig about the size, got %v", err)
	}
}
