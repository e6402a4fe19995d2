package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	"github.com/psre/appliance/store"
)

// testCA is a root and an issuing CA whose keys are on a SoftHSM token.
type testCA struct {
	root, issuing *x509.Certificate
	issuerSigner  crypto.Signer
	rootPEM       string
	issuer        *ca.Issuer
	db            *store.DB
	dir           string
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	ctx := context.Background()
	rootKey, _, err := tok.GenerateKeyPair(ctx, "root", hsm.ECDSAP384)
	if err != nil {
		t.Fatal(err)
	}
	issKey, _, err := tok.GenerateKeyPair(ctx, "issuing", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"Test PSrE"}, CommonName: "Test Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{1, 2, 3, 4},
	}
	root := mustCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	policies, err := ca.PoliciesExtension([]asn1.ObjectIdentifier{{2, 5, 29, 32, 0}}, "")
	if err != nil {
		t.Fatal(err)
	}
	issTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"ID"}, Organization: []string{"Test PSrE"}, CommonName: "Test Issuing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{5, 6, 7, 8},
		CRLDistributionPoints: []string{"http://127.0.0.1:8080/crl/root.crl"}, IssuingCertificateURL: []string{"http://127.0.0.1:8080/certs/root.der"},
		ExtraExtensions: []pkix.Extension{policies},
	}
	issuing := mustCert(t, issTmpl, root, issKey.Public(), rootKey)
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "appliance.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	linter, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	year := 365 * 24 * time.Hour
	issuer, err := ca.NewIssuer(ca.IssuerConfig{
		Name: "issuing", Certificate: issuing, Signer: issKey, Random: tok.Random(), DB: db, Linter: linter,
		BaseURL: "http://127.0.0.1:8080", Logger: slogDiscard(),
		Profiles: map[ca.Profile]ca.ProfileConfig{
			ca.ProfileIndividual: {Validity: year, PolicyOID: asn1.ObjectIdentifier{2, 16, 360, 1, 99999, 1, 1}, CPSURI: "http://127.0.0.1:8080/cps"},
			ca.ProfileOfficer:    {Validity: year},
			ca.ProfileTLS:        {Validity: 90 * 24 * time.Hour},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := filepath.Join(dir, "root.pem")
	writePEM(t, rootPEM, root.Raw)
	return &testCA{root: root, issuing: issuing, issuerSigner: issKey, rootPEM: rootPEM, issuer: issuer, db: db, dir: dir}
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writePEM(t testing.TB, path string, der ...[]byte) {
	t.Helper()
	var b []byte
	for _, d := range der {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIssueEachProfileVerifiesWithOpenSSL(t *testing.T) {
	tc := newTestCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []ca.Request{
		{Profile: ca.ProfileIndividual, PublicKey: key.Public(), Name: "BUDI SANTOSO", GivenName: "BUDI", Surname: "SANTOSO", SubscriberID: "SUB-0001", Email: "budi@example.co.id", Requester: "test"},
		{Profile: ca.ProfileOfficer, PublicKey: key.Public(), Name: "Siti RA Officer", Email: "siti@example.co.id", Requester: "test"},
		{Profile: ca.ProfileTLS, PublicKey: key.Public(), DNSNames: []string{"console.example.co.id", "localhost"}, Requester: "test"},
	}
	for _, req := range tests {
		t.Run(string(req.Profile), func(t *testing.T) {
			cert, err := tc.issuer.Issue(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			leaf := filepath.Join(tc.dir, string(req.Profile)+".pem")
			chain := filepath.Join(tc.dir, "issuing.pem")
			writePEM(t, leaf, cert.Raw)
			writePEM(t, chain, tc.issuing.Raw)
			out, err := exec.Command("openssl", "verify", "-CAfile", tc.rootPEM, "-untrusted", chain, leaf).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ": OK") {
				t.Fatalf("openssl verify: %v\n%s", err, out)
			}
			rec, err := tc.db.Certificate(ca.SerialHex(cert.SerialNumber))
			if err != nil {
				t.Fatal(err)
			}
			if rec.State != store.StateIssued || rec.Status != store.StatusGood || string(rec.DER) != string(cert.Raw) {
				t.Fatalf("record %+v", rec)
			}
			if cert.SerialNumber.BitLen() <= 64 {
				t.Fatalf("serial %x has %d bits", cert.SerialNumber, cert.SerialNumber.BitLen())
			}
		})
	}
}

func TestIssueRefusesBadRequestsAndRecordsNothing(t *testing.T) {
	tc := newTestCA(t)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	good, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name string
		req  ca.Request
		msg  string
	}{
		{"weak RSA key", ca.Request{Profile: ca.ProfileOfficer, PublicKey: weak.Public(), Name: "X", Requester: "t"}, "RSA-1024"},
		{"P-224 key", ca.Request{Profile: ca.ProfileOfficer, PublicKey: p224.Public(), Name: "X", Requester: "t"}, "P-224"},
		{"unknown profile", ca.Request{Profile: "server", PublicKey: good.Public(), Name: "X", Requester: "t"}, "does not issue"},
		{"individual without email", ca.Request{Profile: ca.ProfileIndividual, PublicKey: good.Public(), Name: "X", SubscriberID: "S1", Requester: "t"}, "e-mail"},
		{"individual with a NIK as subscriber id", ca.Request{Profile: ca.ProfileIndividual, PublicKey: good.Public(), Name: "X", SubscriberID: "NIK-3171234567890123", Email: "x@example.co.id", Requester: "t"}, "looks like a NIK"},
		{"individual without subscriber id", ca.Request{Profile: ca.ProfileIndividual, PublicKey: good.Public(), Name: "X", Email: "x@example.co.id", Requester: "t"}, "subscriber identifier"},
		{"tls without names", ca.Request{Profile: ca.ProfileTLS, PublicKey: good.Public(), Requester: "t"}, "DNS name"},
		{"tls with bad name", ca.Request{Profile: ca.ProfileTLS, PublicKey: good.Public(), DNSNames: []string{"Bad Name"}, Requester: "t"}, "not a valid"},
		{"no requester", ca.Request{Profile: ca.ProfileOfficer, PublicKey: good.Public(), Name: "X"}, "requester"},
	}
	for _, tc2 := range tests {
		t.Run(tc2.name, func(t *testing.T) {
			_, err := tc.issuer.Issue(context.Background(), tc2.req)
			if !errors.Is(err, ca.ErrBadRequest) || !strings.Contains(err.Error(), tc2.msg) {
				t.Fatalf("got %v, want ErrBadRequest mentioning %q", err, tc2.msg)
			}
		})
	}
	n := 0
	if err := tc.db.ForEachCertificate(func(store.CertRecord) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d records after refused requests, want 0", n)
	}
}

func TestReconcileClosesInterruptedIntents(t *testing.T) {
	tc := newTestCA(t)
	rec := store.CertRecord{Serial: "7a1b", CA: "issuing", Profile: "officer", Requester: "t", TBSHash: []byte{1}, Created: time.Now()}
	if err := tc.db.RecordIntent(rec); err != nil {
		t.Fatal(err)
	}
	closed, err := ca.Reconcile(context.Background(), tc.db, slogDiscard())
	if err != nil || len(closed) != 1 || closed[0].Serial != "7a1b" {
		t.Fatalf("reconcile: %v, %v", closed, err)
	}
	got, err := tc.db.Certificate("7a1b")
	if err != nil || got.State != store.StateAbandoned || got.Note == "" {
		t.Fatalf("record after reconcile: %+v, %v", got, err)
	}
	if err := tc.db.RecordIntent(rec); !errors.Is(err, store.ErrSerialExists) {
		t.Fatalf("serial reused: %v", err)
	}
	again, err := ca.Reconcile(context.Background(), tc.db, slogDiscard())
	if err != nil || len(again) != 0 {
		t.Fatalf("second reconcile: %v, %v", again, err)
	}
}
