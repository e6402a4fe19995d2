package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
)

// profileCert is one certificate shaped like those of a ca profile, as
// PreSign lints it (TBS, algorithm, placeholder signature).
type profileCert struct {
	name       string
	privateTLS bool
	der        []byte
	cert       *zx509.Certificate
}

// profileCerts builds an individual, an officer and a tls certificate like
// the ca package's profiles make them (the lint package cannot import ca).
func profileCerts(t testing.TB) []profileCert {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().UTC().Truncate(time.Second)
	caCert := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"Test PSrE"}, CommonName: "Test Issuing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{5, 6, 7, 8}, PublicKey: caKey.Public()}
	policies, _ := asn1.Marshal([]struct {
		Policy     asn1.ObjectIdentifier
		Qualifiers []struct {
			ID        asn1.ObjectIdentifier
			Qualifier string `asn1:"ia5"`
		}
	}{{Policy: asn1.ObjectIdentifier{2, 16, 360, 1, 99999, 1, 1}, Qualifiers: []struct {
		ID        asn1.ObjectIdentifier
		Qualifier string `asn1:"ia5"`
	}{{ID: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 2, 1}, Qualifier: "http://127.0.0.1:8080/cps"}}}})
	base := func(serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: new(big.Int).Lsh(big.NewInt(serial), 100), BasicConstraintsValid: true,
			NotBefore: now, NotAfter: now.AddDate(1, 0, 0).Add(-time.Second), SubjectKeyId: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
			CRLDistributionPoints: []string{"http://127.0.0.1:8080/crl/issuing.crl"}, OCSPServer: []string{"http://127.0.0.1:8080/ocsp"},
			IssuingCertificateURL: []string{"http://127.0.0.1:8080/certs/issuing.der"}}
	}
	individual := base(1)
	individual.Subject = pkix.Name{Country: []string{"ID"}, CommonName: "BUDI SANTOSO", SerialNumber: "SUB-0001",
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: "BUDI"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 4}, Value: "SANTOSO"}}}
	individual.EmailAddresses = []string{"budi@example.co.id"}
	individual.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	individual.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 36}}
	individual.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 32}, Value: policies}}
	officer := base(2)
	officer.Subject = pkix.Name{Country: []string{"ID"}, CommonName: "Siti RA Officer"}
	officer.EmailAddresses = []string{"siti@example.co.id"}
	officer.KeyUsage = x509.KeyUsageDigitalSignature
	officer.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	tls := base(3)
	tls.NotAfter = now.Add(90*24*time.Hour - time.Second)
	tls.Subject = pkix.Name{CommonName: "console.example.co.id"}
	tls.DNSNames = []string{"console.example.co.id", "localhost"}
	tls.KeyUsage = x509.KeyUsageDigitalSignature
	tls.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	var out []profileCert
	for _, p := range []struct {
		name       string
		tmpl       *x509.Certificate
		privateTLS bool
	}{{"individual", individual, false}, {"officer", officer, false}, {"tls", tls, true}} {
		tbs, err := BuildTBS(p.tmpl, caCert, key.Public())
		if err != nil {
			t.Fatal(err)
		}
		alg, err := tbsSignatureAlgorithm(tbs)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := placeholderSignature(caKey.Public())
		if err != nil {
			t.Fatal(err)
		}
		der, err := encodeCertificate(Linted{TBS: tbs, SigAlg: alg}, sig)
		if err != nil {
			t.Fatal(err)
		}
		c, err := zx509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, profileCert{name: p.name, privateTLS: p.privateTLS, der: der, cert: c})
	}
	return out
}
