package ceremony_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca/ceremony"
	"github.com/psre/appliance/hsm"
)

// skiOf is RFC 5280 method 1, computed here independently of the package.
func skiOf(t *testing.T, c *x509.Certificate) []byte {
	t.Helper()
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:]
}

// checkSerial wants a positive serial of more than 64 bits (CA/B BR 7.1).
func checkSerial(t *testing.T, name string, c *x509.Certificate) {
	t.Helper()
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() <= 64 || c.SerialNumber.BitLen() > 159 {
		t.Errorf("%s: serial %x (%d bits): want positive, 65..159 bits", name, c.SerialNumber, c.SerialNumber.BitLen())
	}
}

// TestRootSubordinateOCSPChain builds root -> subordinate -> OCSP responder
// and checks the chain with openssl and the profiles with crypto/x509.
func TestRootSubordinateOCSPChain(t *testing.T) {
	f := newFixture(t, "root", "ca")
	ctx := context.Background()
	start := time.Now().Add(-time.Second)
	rootRes := f.mustRun("root.yaml", rootYAML)
	subRes := f.mustRun("sub.yaml", edit(t, subYAML, "  issuer_url:", "  ocsp_url: http://pki.example.test/ocsp\n  issuer_url:"))
	ocspRes := f.mustRun("ocsp.yaml", edit(t, ocspYAML, "  certificate: ocsp.pem\n", "  certificate: ocsp.pem\n  public_key: ocsp.pub.pem\n"))
	end := time.Now().Add(time.Second)
	rootPath, subPath, ocspPath := filepath.Join(f.pki, "root.pem"), filepath.Join(f.pki, "sub.pem"), filepath.Join(f.pki, "ocsp.pem")
	ocspPubPath := filepath.Join(f.pki, "ocsp.pub.pem")

	// openssl verifies the chain; the responder does not verify without
	// its issuer.
	if out := openssl(t, "verify", "-CAfile", rootPath, subPath); !strings.Contains(out, "sub.pem: OK") {
		t.Errorf("openssl verify sub: %s", out)
	}
	if out := openssl(t, "verify", "-CAfile", rootPath, "-untrusted", subPath, ocspPath); !strings.Contains(out, "ocsp.pem: OK") {
		t.Errorf("openssl verify ocsp: %s", out)
	}
	if out, err := exec.Command("openssl", "verify", "-CAfile", rootPath, ocspPath).CombinedOutput(); err == nil {
		t.Errorf("the OCSP certificate verified without its issuer: %s", out)
	}

	root, sub, ocsp := readCert(t, rootPath), readCert(t, subPath), readCert(t, ocspPath)
	tokenPub := map[string]crypto.PublicKey{}
	for _, r := range []*ceremony.Result{rootRes, subRes, ocspRes} {
		f.withToken(r.KeyURI.Token, func(tok *hsm.Token) {
			s, err := tok.Signer(ctx, r.KeyURI)
			if err != nil {
				t.Fatal(err)
			}
			tokenPub[r.KeyURI.Object] = s.Public()
		})
	}
	for name, c := range map[string]*x509.Certificate{"root-ca": root, "issuing-ca": sub, "ocsp": ocsp} {
		checkSerial(t, name, c)
		if !c.PublicKey.(*ecdsa.PublicKey).Equal(tokenPub[name]) {
			t.Errorf("%s: the certificate's public key is not the token key's", name)
		}
		if !bytes.Equal(c.SubjectKeyId, skiOf(t, c)) {
			t.Errorf("%s: subjectKeyIdentifier %x, want SHA-1 of the key bits", name, c.SubjectKeyId)
		}
		if c.NotBefore.Before(start) || c.NotBefore.After(end) {
			t.Errorf("%s: notBefore %s not the time of the ceremony", name, c.NotBefore)
		}
	}

	t.Run("root", func(t *testing.T) {
		if err := root.CheckSignatureFrom(root); err != nil || !bytes.Equal(root.RawIssuer, root.RawSubject) {
			t.Errorf("root is not self-signed: %v", err)
		}
		if !root.IsCA || !root.BasicConstraintsValid || root.MaxPathLen != -1 || root.MaxPathLenZero {
			t.Errorf("basic constraints: CA %v valid %v pathlen %d zero %v; want CA without pathlen", root.IsCA, root.BasicConstraintsValid, root.MaxPathLen, root.MaxPathLenZero)
		}
		if root.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
			t.Errorf("key usage %b, want keyCertSign|cRLSign", root.KeyUsage)
		}
		if len(root.ExtKeyUsage)+len(root.UnknownExtKeyUsage)+len(root.Policies)+len(root.CRLDistributionPoints)+len(root.IssuingCertificateURL)+len(root.OCSPServer) != 0 {
			t.Errorf("root carries EKU, policies, CRL DP or AIA")
		}
		if got := root.NotAfter.Sub(root.NotBefore); got != 9132*24*time.Hour-time.Second {
			t.Errorf("validity %s, want 9132 days less a second", got)
		}
		if root.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P384() || root.SignatureAlgorithm != x509.ECDSAWithSHA384 {
			t.Errorf("root key/signature: %s", root.SignatureAlgorithm)
		}
		if root.Subject.CommonName != "Uji Root CA G1" || root.Subject.Country[0] != "ID" || root.Subject.Organization[0] != "PT Uji Sertifikasi" {
			t.Errorf("subject %s", root.Subject)
		}
	})

	t.Run("subordinate", func(t *testing.T) {
		if err := sub.CheckSignatureFrom(root); err != nil {
			t.Error(err)
		}
		if !sub.IsCA || sub.MaxPathLen != 0 || !sub.MaxPathLenZero {
			t.Errorf("basic constraints: CA %v pathlen %d zero %v; want CA, pathlen 0", sub.IsCA, sub.MaxPathLen, sub.MaxPathLenZero)
		}
		if sub.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
			t.Errorf("key usage %b", sub.KeyUsage)
		}
		if !bytes.Equal(sub.AuthorityKeyId, root.SubjectKeyId) {
			t.Errorf("authorityKeyIdentifier %x, want the root's %x", sub.AuthorityKeyId, root.SubjectKeyId)
		}
		if !reflect.DeepEqual(sub.CRLDistributionPoints, []string{"http://pki.example.test/crl/root.crl"}) ||
			!reflect.DeepEqual(sub.IssuingCertificateURL, []string{"http://pki.example.test/certs/root.der"}) ||
			!reflect.DeepEqual(sub.OCSPServer, []string{"http://pki.example.test/ocsp"}) {
			t.Errorf("CRL DP %v, caIssuers %v, OCSP %v", sub.CRLDistributionPoints, sub.IssuingCertificateURL, sub.OCSPServer)
		}
		if len(sub.Policies) != 1 || sub.Policies[0].String() != "2.16.360.1.99999.1.1" {
			t.Errorf("policies %v", sub.Policies)
		}
		if len(sub.ExtKeyUsage) != 0 || len(sub.UnknownExtKeyUsage) != 1 || sub.UnknownExtKeyUsage[0].String() != "1.3.6.1.5.5.7.3.36" {
			t.Errorf("EKU %v %v, want documentSigning only", sub.ExtKeyUsage, sub.UnknownExtKeyUsage)
		}
		if got := sub.NotAfter.Sub(sub.NotBefore); got != 3652*24*time.Hour-time.Second {
			t.Errorf("validity %s", got)
		}
		text := openssl(t, "x509", "-in", subPath, "-noout", "-text")
		for _, w := range []string{"CA:TRUE, pathlen:0", "Policy: 2.16.360.1.99999.1.1", "CPS: http://pki.example.test/cps",
			"URI:http://pki.example.test/crl/root.crl", "CA Issuers - URI:http://pki.example.test/certs/root.der",
			"OCSP - URI:http://pki.example.test/ocsp", "Certificate Sign, CRL Sign"} {
			if !strings.Contains(text, w) {
				t.Errorf("openssl x509 -text lacks %q:\n%s", w, text)
			}
		}
	})

	t.Run("ocsp-signer", func(t *testing.T) {
		if err := ocsp.CheckSignatureFrom(sub); err != nil {
			t.Error(err)
		}
		if ocsp.IsCA || !ocsp.BasicConstraintsValid {
			t.Errorf("basic constraints: CA %v valid %v; want CA:FALSE", ocsp.IsCA, ocsp.BasicConstraintsValid)
		}
		if !reflect.DeepEqual(ocsp.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) || len(ocsp.UnknownExtKeyUsage) != 0 {
			t.Errorf("EKU %v %v, want OCSPSigning only", ocsp.ExtKeyUsage, ocsp.UnknownExtKeyUsage)
		}
		if ocsp.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("key usage %b, want digitalSignature", ocsp.KeyUsage)
		}
		var nocheck int
		for _, e := range ocsp.Extensions {
			if e.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}) {
				nocheck++
				if !bytes.Equal(e.Value, []byte{0x05, 0x00}) || e.Critical {
					t.Errorf("ocsp-nocheck value %x critical %v, want NULL, not critical", e.Value, e.Critical)
				}
			}
		}
		if nocheck != 1 {
			t.Errorf("%d ocsp-nocheck extensions, want 1", nocheck)
		}
		if ocsp.NotAfter.Sub(ocsp.NotBefore) > 90*24*time.Hour {
			t.Errorf("validity %s over 90 days", ocsp.NotAfter.Sub(ocsp.NotBefore))
		}
		if ocsp.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
			t.Errorf("OCSP key is not P-256")
		}
		if pub, err := x509.ParsePKIXPublicKey(readDER(t, ocspPubPath, "PUBLIC KEY")); err != nil || !ocsp.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
			t.Errorf("public_key output is not the certificate's key: %v", err)
		}
		if !bytes.Equal(ocsp.AuthorityKeyId, sub.SubjectKeyId) {
			t.Errorf("authorityKeyIdentifier %x, want the issuer's %x", ocsp.AuthorityKeyId, sub.SubjectKeyId)
		}
		text := openssl(t, "x509", "-in", ocspPath, "-noout", "-text")
		for _, w := range []string{"OCSP No Check", "OCSP Signing", "CA:FALSE"} {
			if !strings.Contains(text, w) {
				t.Errorf("openssl x509 -text lacks %q:\n%s", w, text)
			}
		}
		if strings.Contains(text, "Certificate Policies") || strings.Contains(text, "CRL Distribution") {
			t.Errorf("OCSP responder certificate carries policies or a CRL DP:\n%s", text)
		}
	})

	t.Run("transcript", func(t *testing.T) {
		entries := readTranscript(t, filepath.Join(f.pki, "transcript.jsonl"))
		byConfig := map[string][]ceremony.Entry{}
		var last time.Time
		for _, e := range entries {
			byConfig[e.ConfigSHA256] = append(byConfig[e.ConfigSHA256], e)
			if e.Time.Before(last) || e.Time.Before(start) || e.Time.After(end) {
				t.Errorf("entry %s at %s out of order or outside the run", e.Step, e.Time)
			}
			last = e.Time
		}
		tail := []string{"prelint", "generate_key", "check_attributes", "lint", "hsm_sign", "verify", "certificate", "write_output"}
		checks := []struct {
			config string
			typ    ceremony.Type
			res    *ceremony.Result
			cert   *x509.Certificate
			logins []string
			output map[string]string // path -> SHA-256 of the DER, computed here
		}{
			{"root.yaml", ceremony.TypeRoot, rootRes, root, []string{"login"}, map[string]string{rootPath: sha256hex(root.Raw)}},
			{"sub.yaml", ceremony.TypeSubordinate, subRes, sub, []string{"login", "login"}, map[string]string{subPath: sha256hex(sub.Raw)}},
			{"ocsp.yaml", ceremony.TypeOCSPSigner, ocspRes, ocsp, []string{"login"},
				map[string]string{ocspPath: sha256hex(ocsp.Raw), ocspPubPath: sha256hex(readDER(t, ocspPubPath, "PUBLIC KEY"))}},
		}
		total := 0
		for _, c := range checks {
			data, err := os.ReadFile(filepath.Join(f.pki, c.config))
			if err != nil {
				t.Fatal(err)
			}
			mine := byConfig[sha256hex(data)]
			total += len(mine)
			want := append(append([]string{"validated"}, c.logins...), tail...)
			for range len(c.output) - 1 {
				want = append(want, "write_output")
			}
			want = append(want, "done")
			if got := steps(mine); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: steps %v, want %v", c.config, got, want)
				continue
			}
			written := map[string]string{}
			for _, e := range mine {
				if e.Ceremony != c.typ || e.Error != "" {
					t.Errorf("%s: entry %+v", c.config, e)
				}
				switch e.Step {
				case "write_output":
					for p, h := range e.Outputs {
						written[p] = h
					}
				case "generate_key":
					if e.KeyURI != c.res.KeyURI.String() {
						t.Errorf("%s: generate_key names %q, the result %s", c.config, e.KeyURI, c.res.KeyURI)
					}
				case "certificate":
					if serial := strings.TrimPrefix(e.Detail, "serial "); strings.TrimLeft(serial, "0") != c.cert.SerialNumber.Text(16) {
						t.Errorf("%s: certificate step %q, serial %x", c.config, e.Detail, c.cert.SerialNumber)
					}
				}
			}
			done := mine[len(mine)-1]
			if !reflect.DeepEqual(done.Outputs, c.output) || !reflect.DeepEqual(c.res.Outputs, c.output) || !reflect.DeepEqual(written, c.output) {
				t.Errorf("%s: done lists %v, write_output %v, result %v; want %v", c.config, done.Outputs, written, c.res.Outputs, c.output)
			}
			if done.KeyURI != c.res.KeyURI.String() {
				t.Errorf("%s: done names key %q, the result %s", c.config, done.KeyURI, c.res.KeyURI)
			}
		}
		if total != len(entries) {
			t.Errorf("%d transcript entries, %d belong to the three configs", len(entries), total)
		}
	})
}

// TestKeyLabelExists runs a root ceremony whose key label is taken: by the
// first root's key pair, or by an AES key. Both are refused with
// hsm.ErrLabelExists and change nothing.
func TestKeyLabelExists(t *testing.T) {
	f := newFixture(t, "root")
	f.mustRun("root.yaml", rootYAML)
	f.mustRun("kek.yaml", edit(t, keyYAML, "token=ca;object=audit", "token=root;object=kek", "ca: file:{{.Pins}}/ca", "root: file:{{.Pins}}/root",
		"algorithm: ecdsa-p256", "algorithm: aes-256", "outputs:\n  public_key: audit.pub.pem\n", "outputs: {}\n"))
	for _, label := range []string{"root-ca", "kek"} {
		t.Run(label, func(t *testing.T) {
			files := snapshot(t, f.pki)
			objects := f.objects("root")
			text := edit(t, rootYAML, "object=root-ca", "object="+label, "certificate: root.pem", "certificate: root2.pem")
			_, out, err := f.runIn(f.pki, "root2-"+label+".yaml", text)
			if !errors.Is(err, hsm.ErrLabelExists) {
				t.Fatalf("want ErrLabelExists, got %v\n%s", err, out)
			}
			if !strings.Contains(err.Error(), label) || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("error does not name the key and say it exists: %v", err)
			}
			mustNotExist(t, filepath.Join(f.pki, "root2.pem"))
			if after := f.objects("root"); after != objects {
				t.Errorf("token objects changed:\n%s\n---\n%s", objects, after)
			}
			after := snapshot(t, f.pki)
			for p, h := range files {
				if after[p] != h && filepath.Base(p) != "transcript.jsonl" {
					t.Errorf("%s changed", p)
				}
			}
			// The refusal is in the transcript, after validation and login.
			entries := readTranscript(t, filepath.Join(f.pki, "transcript.jsonl"))
			data, _ := os.ReadFile(filepath.Join(f.pki, "root2-"+label+".yaml"))
			var mine []ceremony.Entry
			for _, e := range entries {
				if e.ConfigSHA256 == sha256hex(data) {
					mine = append(mine, e)
				}
			}
			got := steps(mine)
			if len(got) < 3 || got[0] != "validated" || got[1] != "login" || got[len(got)-1] != "failed" ||
				!strings.Contains(mine[len(mine)-1].Error, "already exists") || strings.Contains(strings.Join(got, " "), "generate_key") {
				t.Errorf("transcript of the refused run: %+v", mine)
			}
			if label == "root-ca" && !reflect.DeepEqual(got, []string{"validated", "login", "failed"}) {
				t.Errorf("steps %v: the existing key pair should be found before anything else", got)
			}
		})
	}
}
