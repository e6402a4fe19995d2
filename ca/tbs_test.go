package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/psre/appliance/ca/lint"
)

// TestTBSEncoderMatchesCryptoX509 compares the direct TBS encoder with
// crypto/x509.CreateCertificate (lint.BuildTBS) byte for byte, on the
// profiles' templates and on thousands of random variations of every field
// the encoder writes, for CA and subject keys of each accepted type.
func TestTBSEncoderMatchesCryptoX509(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := []crypto.Signer{p256, p384, rsa2048}
	now := time.Now().UTC().Truncate(time.Second)
	caName := pkix.Name{Country: []string{"ID"}, Organization: []string{"Test PSrE"}, CommonName: "Test Issuing CA"}
	var cas []*x509.Certificate
	for i, k := range keys {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: caName, NotBefore: now, NotAfter: now.AddDate(5, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		if i != 2 {
			tmpl.SubjectKeyId = []byte{byte(i), 1, 2, 3}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		cas = append(cas, c)
	}
	// A CA certificate without a subjectKeyIdentifier (RSA one above, as
	// crypto/x509 adds one to CA templates otherwise): AKI comes from the
	// template then.
	cas[2].SubjectKeyId = nil

	rng := mrand.New(mrand.NewPCG(1, 2))
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	names := []string{"BUDI SANTOSO", "Siti Nurhaliza", "José Ñúñez", "a*b", "R&D", "O'Brien (ID)", "x@y", "", "Test Issuing CA", "日本", "a_b", "  lead", "trail ", "+-./:=?"}
	mkTemplate := func() *x509.Certificate {
		tm := &x509.Certificate{BasicConstraintsValid: rng.IntN(4) != 0}
		serial := make([]byte, 1+rng.IntN(20))
		rand.Read(serial)
		tm.SerialNumber = new(big.Int).SetBytes(serial)
		tm.SerialNumber.Add(tm.SerialNumber, big.NewInt(1))
		switch rng.IntN(5) {
		case 0:
			tm.Subject = caName // subject = issuer: AKI as in the template
		case 1:
			tm.Subject = pkix.Name{} // empty: a critical SAN
		default:
			tm.Subject = pkix.Name{CommonName: pick(names...)}
			if rng.IntN(2) == 0 {
				tm.Subject.Country = []string{"ID"}
			}
			if rng.IntN(3) == 0 {
				tm.Subject.SerialNumber = pick("SUB-0001", "Ä-1", "x")
			}
			if rng.IntN(3) == 0 {
				tm.Subject.Organization = []string{pick(names...)}
			}
			if rng.IntN(3) == 0 {
				tm.Subject.ExtraNames = append(tm.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: pick(names...)})
			}
			if rng.IntN(4) == 0 {
				tm.Subject.ExtraNames = append(tm.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 4}, Value: pick(names...)})
			}
			if rng.IntN(8) == 0 {
				tm.Subject.Country = []string{"ID", "MY"} // a multi-valued RDN
			}
			if rng.IntN(8) == 0 {
				tm.Subject.ExtraNames = append(tm.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "override"})
			}
			if rng.IntN(10) == 0 {
				tm.Subject.ExtraNames = append(tm.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 5}, Value: 42})
			}
		}
		base := []time.Time{now, time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(1999, 6, 1, 1, 2, 3, 0, time.FixedZone("WIB", 7*3600)), now.Add(123456789 * time.Nanosecond)}
		tm.NotBefore = base[rng.IntN(len(base))]
		tm.NotAfter = base[rng.IntN(len(base))].AddDate(rng.IntN(40), 0, 0)
		tm.KeyUsage = x509.KeyUsage(rng.IntN(1 << 9))
		for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageAny, x509.ExtKeyUsageOCSPSigning} {
			if rng.IntN(4) == 0 {
				tm.ExtKeyUsage = append(tm.ExtKeyUsage, u)
			}
		}
		if rng.IntN(3) == 0 {
			tm.UnknownExtKeyUsage = []asn1.ObjectIdentifier{OIDDocumentSigning}
		}
		if rng.IntN(5) != 0 {
			tm.SubjectKeyId = make([]byte, 1+rng.IntN(20))
			rand.Read(tm.SubjectKeyId)
		}
		if rng.IntN(4) == 0 {
			tm.AuthorityKeyId = []byte{7, 7}
		}
		if rng.IntN(2) == 0 {
			tm.DNSNames = []string{pick("console.example.co.id", "localhost", "a-b.example")}
			if rng.IntN(2) == 0 {
				tm.DNSNames = append(tm.DNSNames, "localhost")
			}
		}
		if rng.IntN(2) == 0 {
			tm.EmailAddresses = []string{pick("budi@example.co.id", "x@y.z")}
		}
		if rng.IntN(2) == 0 {
			tm.CRLDistributionPoints = []string{"http://127.0.0.1:8080/crl/issuing.crl"}
			if rng.IntN(4) == 0 {
				tm.CRLDistributionPoints = append(tm.CRLDistributionPoints, "http://crl.example/b.crl")
			}
		}
		if rng.IntN(2) == 0 {
			tm.OCSPServer = []string{"http://127.0.0.1:8080/ocsp"}
		}
		if rng.IntN(2) == 0 {
			tm.IssuingCertificateURL = []string{"http://127.0.0.1:8080/certs/issuing.der", "http://x/y.der"}[:1+rng.IntN(2)]
		}
		if rng.IntN(2) == 0 {
			ext, err := PoliciesExtension([]asn1.ObjectIdentifier{{2, 16, 360, 1, 99999, 1, 1}}, pick("", "http://127.0.0.1:8080/cps"))
			if err != nil {
				t.Fatal(err)
			}
			ext.Critical = rng.IntN(5) == 0
			tm.ExtraExtensions = append(tm.ExtraExtensions, ext)
		}
		if rng.IntN(8) == 0 { // an extra extension that replaces a built one
			tm.ExtraExtensions = append(tm.ExtraExtensions, pkix.Extension{Id: []asn1.ObjectIdentifier{oidExtSubjectAltName, oidExtKeyUsage, oidExtCRLDP, oidExtAuthorityKeyID}[rng.IntN(4)], Value: []byte{0x30, 0}})
		}
		if rng.IntN(10) == 0 {
			tm.MaxPathLen = -1
		}
		return tm
	}
	compared := 0
	compare := func(name string, tm *x509.Certificate, ca *x509.Certificate, pub crypto.PublicKey) bool {
		t.Helper()
		enc, err := newTBSEncoder(ca)
		if err != nil {
			t.Fatal(err)
		}
		spki, ski, err := spkiAndKeyID(pub)
		if err != nil {
			t.Fatal(err)
		}
		if want, err := subjectKeyIDReference(pub); err != nil || !bytes.Equal(ski, want) {
			t.Fatalf("%s: key identifier %x, want %x (%v)", name, ski, want, err)
		}
		want, werr := lint.BuildTBS(tm, ca, pub)
		got, gerr := enc.encode(tm, spki)
		if (werr != nil) != (gerr != nil) {
			t.Errorf("%s: crypto/x509 error %v, direct encoder error %v", name, werr, gerr)
			return false
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Errorf("%s: TBS differs\n got %x\nwant %x", name, got, want)
			return false
		}
		if werr == nil {
			compared++
		}
		return true
	}
	n := 4000
	if testing.Short() {
		n = 500
	}
	for i := 0; i < n; i++ {
		ci := rng.IntN(len(cas))
		pub := keys[rng.IntN(len(keys))].Public()
		if !compare(fmt.Sprintf("random %d (CA key %d)", i, ci), mkTemplate(), cas[ci], pub) {
			break
		}
	}
	if compared < n*9/10 {
		t.Fatalf("only %d of %d random templates were encoded by crypto/x509", compared, n)
	}
	t.Logf("%d random templates encoded identically", compared)
	// Names a DNS name or e-mail address cannot be: both refuse them.
	bad := mkTemplate()
	bad.DNSNames = []string{"bücher.example"}
	compare("non-IA5 DNS name", bad, cas[0], p256.Public())
	// The profiles' own templates, through Request.template and fill.
	is := &Issuer{cfg: IssuerConfig{Certificate: cas[0]}, crlDP: []string{"http://127.0.0.1:8080/crl/issuing.crl"},
		ocsp: []string{"http://127.0.0.1:8080/ocsp"}, caIssuers: []string{"http://127.0.0.1:8080/certs/issuing.der"}, policies: map[Profile]pkix.Extension{}}
	pol, _ := PoliciesExtension([]asn1.ObjectIdentifier{{2, 16, 360, 1, 99999, 1, 1}}, "http://127.0.0.1:8080/cps")
	is.policies[ProfileIndividual] = pol
	for _, req := range []Request{
		{Profile: ProfileIndividual, Name: "BUDI SANTOSO", GivenName: "BUDI", Surname: "SANTOSO", SubscriberID: "SUB-0001", Email: "budi@example.co.id"},
		{Profile: ProfileIndividual, Name: "José Ñúñez", SubscriberID: "SUB-2", Email: "j@example.co.id"},
		{Profile: ProfileOfficer, Name: "Siti Officer"},
		{Profile: ProfileOfficer, Name: "Siti Officer", Email: "siti@example.co.id"},
		{Profile: ProfileTLS, DNSNames: []string{"console.example.co.id", "localhost"}},
	} {
		for _, k := range keys {
			req.PublicKey = k.Public()
			tm, err := req.template(ProfileConfig{Validity: 365 * 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			_, ski, _ := spkiAndKeyID(k.Public())
			is.fill(tm, req.Profile, ProfileConfig{Validity: 365 * 24 * time.Hour}, new(big.Int).Lsh(big.NewInt(3), 120), ski, now)
			compare(fmt.Sprintf("%s %T", req.Profile, k), tm, cas[0], k.Public())
		}
	}
}

// subjectKeyIDReference is the key identifier computed the long way
// (encoding/asn1), to check spkiAndKeyID.
func subjectKeyIDReference(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	h := sha1.Sum(spki.PublicKey.Bytes)
	return h[:], nil
}
