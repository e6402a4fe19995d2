package ceremony_test

import (
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRSARoot runs the RSA path once: an RSA-3072 root signs an ECDSA
// subordinate and a CRL (the throwaway keys for linting are RSA too).
func TestRSARoot(t *testing.T) {
	f := newFixture(t, "root", "ca")
	f.mustRun("root.yaml", edit(t, rootYAML, "algorithm: ecdsa-p384", "algorithm: rsa-3072"))
	f.mustRun("sub.yaml", subYAML)
	f.mustRun("crl.yaml", crlYAML)
	rootPath, subPath := filepath.Join(f.pki, "root.pem"), filepath.Join(f.pki, "sub.pem")

	root, sub := readCert(t, rootPath), readCert(t, subPath)
	if k, ok := root.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 3072 {
		t.Errorf("root key %T, want RSA-3072", root.PublicKey)
	}
	if root.SignatureAlgorithm != x509.SHA256WithRSA || sub.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("signature algorithms %s, %s; want SHA256-RSA", root.SignatureAlgorithm, sub.SignatureAlgorithm)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Error(err)
	}
	if out := openssl(t, "verify", "-CAfile", rootPath, rootPath); !strings.Contains(out, "root.pem: OK") {
		t.Errorf("openssl verify root: %s", out)
	}
	if out := openssl(t, "verify", "-CAfile", rootPath, subPath); !strings.Contains(out, "sub.pem: OK") {
		t.Errorf("openssl verify sub: %s", out)
	}
	crlPath := filepath.Join(f.pki, "root.crl")
	if out := openssl(t, "crl", "-inform", "DER", "-in", crlPath, "-CAfile", rootPath, "-noout"); !strings.Contains(out, "verify OK") {
		t.Errorf("openssl crl verify: %s", out)
	}
	der, err := os.ReadFile(crlPath)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || crl.CheckSignatureFrom(root) != nil || crl.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("CRL: %v", err)
	}
}
