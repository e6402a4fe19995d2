package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zlintlint "github.com/zmap/zlint/v3/lint"
)

// TestCheckMatchesZlint: certSet.check, which applies zlint's framework
// filter once per certificate, reports exactly the lints zlint's own entry
// point reports, on the profiles' certificates and on certificates made to
// fail lints of each filtered source (TLS, S/MIME and code-signing BRs).
func TestCheckMatchesZlint(t *testing.T) {
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	certs := profileCerts(t)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().UTC().Truncate(time.Second)
	caCert := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, SubjectKeyId: []byte{5}, PublicKey: caKey.Public()}
	bad := map[string]*x509.Certificate{
		// serverAuth, five years, an underscore, no SAN for the CN: TLS BR findings.
		"tls-br": {SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "a_b.example.com", Organization: []string{"O"}},
			NotBefore: now, NotAfter: now.AddDate(5, 0, 0), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature},
		// emailProtection without an e-mail address and a long life: S/MIME BR findings.
		"smime-br": {SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "someone"},
			NotBefore: now, NotAfter: now.AddDate(4, 0, 0), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, KeyUsage: x509.KeyUsageDigitalSignature},
		// the code-signing BR policy, a long life: CS BR findings.
		"cs-br": {SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "signer"},
			NotBefore: now, NotAfter: now.AddDate(4, 0, 0), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
			Policies: []x509.OID{mustOID(t, "2.23.140.1.4.1")}, KeyUsage: x509.KeyUsageDigitalSignature},
		// clientAuth only, but an RFC 5280 problem (critical SAN with a subject).
		"rfc": {SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: " lead"}, NotBefore: now, NotAfter: now.AddDate(1, 0, 0),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: []byte{0x30, 0x00}}}},
	}
	for name, tmpl := range bad {
		tbs, err := BuildTBS(tmpl, caCert, key.Public())
		if err != nil {
			t.Fatal(err)
		}
		alg, _ := tbsSignatureAlgorithm(tbs)
		sig, _ := placeholderSignature(caKey.Public())
		der, err := encodeCertificate(Linted{TBS: tbs, SigAlg: alg}, sig)
		if err != nil {
			t.Fatal(err)
		}
		c, err := zx509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, profileCert{name: name, der: der, cert: c})
		certs = append(certs, profileCert{name: name + " (private tls)", privateTLS: true, der: der, cert: c})
	}
	for _, pc := range certs {
		reg, set := l.registry, l.certs
		if pc.privateTLS {
			reg, set = l.privateTLS, l.privateTLSCerts
		}
		var want []string
		for name, r := range zlint.LintCertificateEx(pc.cert, reg).Results {
			switch r.Status {
			case zlintlint.Warn, zlintlint.Error, zlintlint.Fatal:
				want = append(want, name)
			}
		}
		slices.Sort(want)
		var got []string
		var lerr *Error
		if err := set.check(pc.cert); errors.As(err, &lerr) {
			for _, f := range lerr.Findings {
				if f.Lint != smallKeyLint {
					got = append(got, f.Lint)
				}
			}
		} else if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: check reports %v, zlint %v", pc.name, got, want)
		}
		if len(want) == 0 && (pc.name == "tls-br" || pc.name == "smime-br" || pc.name == "cs-br" || pc.name == "rfc") {
			t.Errorf("%s: the certificate meant to fail lints passes", pc.name)
		}
		t.Logf("%s: %d findings", pc.name, len(got))
	}
}

func mustOID(t *testing.T, s string) x509.OID {
	o, err := x509.ParseOID(s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}
