package main

// openState on a demo directory laid out in-process, and an individual
// (document-signing) certificate issued through its Authority, checked
// against the profile with openssl, zlint and crypto/x509.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/hsm"
)

// stateTestTimeout bounds the in-process demo init and each command.
const stateTestTimeout = 2 * time.Minute

// runTool runs an external command, bounded, and returns its combined output.
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), stateTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

var (
	oidKeyUsage  = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidSerialNum = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidCountry   = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidCN        = asn1.ObjectIdentifier{2, 5, 4, 3}
	nikLike      = regexp.MustCompile(`[0-9]{16}`)
)

func TestOpenStateIssueIndividual(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	// init sets SOFTHSM2_CONF with os.Setenv; t.Setenv restores it.
	t.Setenv("SOFTHSM2_CONF", filepath.Join(dir, "softhsm2.conf"))
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(t.Context(), stateTestTimeout)
	defer cancel()
	metrics, err := hsm.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := (&demo{dir: dir, out: io.Discard, log: logger, metrics: metrics}).init(ctx); err != nil {
		t.Fatalf("demo init: %v", err)
	}

	st, err := openState(ctx, dir, demoSettings("127.0.0.1:8080"), nil, logger, ca.Hooks{})
	if err != nil {
		t.Fatalf("openState: %v", err)
	}
	defer st.close()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := st.authority.Issue(ctx, "issuing", ca.Request{Profile: ca.ProfileIndividual, PublicKey: key.Public(),
		Name: "BUDI SANTOSO", GivenName: "BUDI", Surname: "SANTOSO", SubscriberID: "SUB-0001",
		Email: "budi@example.co.id", Requester: "test"})
	if err != nil {
		t.Fatalf("issue individual: %v", err)
	}
	path := filepath.Join(t.TempDir(), "budi.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	pki := func(name string) string { return filepath.Join(dir, "pki", name) }
	issuing := st.certs["issuing"]

	t.Run("chain and lint", func(t *testing.T) {
		out, err := runTool(t, "openssl", "verify", "-CAfile", pki("root.pem"), "-untrusted", pki("issuing.pem"), path)
		if err != nil || !strings.Contains(out, path+": OK") {
			t.Errorf("openssl verify: %v\n%s", err, out)
		}
		linter, err := lint.New()
		if err != nil {
			t.Fatal(err)
		}
		if err := linter.Certificate(cert.Raw); err != nil {
			t.Errorf("zlint: %v", err)
		}
		if !bytes.Equal(cert.RawIssuer, issuing.RawSubject) {
			t.Errorf("issuer %s, want the issuing CA %s", cert.Issuer, issuing.Subject)
		}
	})

	t.Run("key usage", func(t *testing.T) {
		if want := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment; cert.KeyUsage != want {
			t.Errorf("KeyUsage %b, want digitalSignature+contentCommitment %b", cert.KeyUsage, want)
		}
		i := slices.IndexFunc(cert.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidKeyUsage) })
		if i < 0 || !cert.Extensions[i].Critical {
			t.Errorf("keyUsage extension missing or not critical (index %d)", i)
		}
		if !slices.ContainsFunc(cert.UnknownExtKeyUsage, func(o asn1.ObjectIdentifier) bool { return o.Equal(ca.OIDDocumentSigning) }) {
			t.Errorf("EKU %v / %v lacks id-kp-documentSigning 1.3.6.1.5.5.7.3.36", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
		}
		if slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageEmailProtection) {
			t.Errorf("EKU %v holds emailProtection", cert.ExtKeyUsage)
		}
		if cert.IsCA || !cert.BasicConstraintsValid {
			t.Errorf("basicConstraints: valid %v, CA %v; want a present, non-CA extension", cert.BasicConstraintsValid, cert.IsCA)
		}
	})

	t.Run("subject", func(t *testing.T) {
		if !slices.Equal(cert.EmailAddresses, []string{"budi@example.co.id"}) || len(cert.DNSNames) != 0 {
			t.Errorf("SAN: e-mail %q, DNS %q; want exactly rfc822Name budi@example.co.id", cert.EmailAddresses, cert.DNSNames)
		}
		want := map[string]string{oidCountry.String(): "ID", oidCN.String(): "BUDI SANTOSO", oidGivenName.String(): "BUDI",
			oidSurname.String(): "SANTOSO", oidSerialNum.String(): "SUB-0001"}
		got := map[string]string{}
		for _, atv := range cert.Subject.Names {
			s, _ := atv.Value.(string)
			if _, dup := got[atv.Type.String()]; dup {
				t.Errorf("subject attribute %s appears twice", atv.Type)
			}
			got[atv.Type.String()] = s
			if nikLike.MatchString(s) {
				t.Errorf("subject attribute %s = %q holds a NIK-like 16-digit number", atv.Type, s)
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("subject %s = %q, want %q (subject %s)", k, got[k], v, cert.Subject)
			}
		}
		if len(got) != len(want) {
			t.Errorf("subject %s has attributes %v, want exactly %v", cert.Subject, got, want)
		}
		if nikLike.Match(cert.RawSubject) || nikLike.MatchString(cert.Subject.String()) {
			t.Errorf("subject %s holds a NIK-like 16-digit number", cert.Subject)
		}
	})

	t.Run("policies and URLs", func(t *testing.T) {
		policy := asn1.ObjectIdentifier{2, 16, 360, 1, 99999, 1, 1}
		if !slices.ContainsFunc(cert.PolicyIdentifiers, func(o asn1.ObjectIdentifier) bool { return o.Equal(policy) }) {
			t.Errorf("certificatePolicies %v lacks %v", cert.PolicyIdentifiers, policy)
		}
		out, err := runTool(t, "openssl", "x509", "-in", path, "-noout", "-text")
		if err != nil || !strings.Contains(out, "Policy: 2.16.360.1.99999.1.1") || !strings.Contains(out, "CPS: http://127.0.0.1:8080/cps") {
			t.Errorf("openssl x509 -text lacks the policy with CPS: http://127.0.0.1:8080/cps: %v\n%s", err, out)
		}
		if !slices.Equal(cert.CRLDistributionPoints, []string{"http://127.0.0.1:8080/crl/issuing.crl"}) {
			t.Errorf("CRL DP %q", cert.CRLDistributionPoints)
		}
		if !slices.Equal(cert.OCSPServer, []string{"http://127.0.0.1:8080/ocsp"}) ||
			!slices.Equal(cert.IssuingCertificateURL, []string{"http://127.0.0.1:8080/certs/issuing.der"}) {
			t.Errorf("AIA: OCSP %q, caIssuers %q", cert.OCSPServer, cert.IssuingCertificateURL)
		}
		if len(cert.AuthorityKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, issuing.SubjectKeyId) {
			t.Errorf("AKI %x, want the issuing CA's SKI %x", cert.AuthorityKeyId, issuing.SubjectKeyId)
		}
	})

	t.Run("validity and serial", func(t *testing.T) {
		if d := cert.NotAfter.Sub(cert.NotBefore); d != 365*24*time.Hour-time.Second {
			t.Errorf("validity %v (%s to %s), want 365 days minus 1s", d, cert.NotBefore, cert.NotAfter)
		}
		if now := time.Now(); cert.NotBefore.After(now) || now.Sub(cert.NotBefore) > time.Hour {
			t.Errorf("notBefore %s, want about now (%s)", cert.NotBefore, now)
		}
		if n := cert.SerialNumber.BitLen(); n <= 64 || cert.SerialNumber.Sign() <= 0 {
			t.Errorf("serial %x has %d bits, want a positive serial of more than 64", cert.SerialNumber, n)
		}
		rec, err := st.authority.Certificate(ca.SerialHex(cert.SerialNumber))
		if err != nil || rec.CA != "issuing" || rec.Profile != string(ca.ProfileIndividual) || !bytes.Equal(rec.DER, cert.Raw) {
			t.Errorf("store record %+v (%v): want the issuing CA's individual certificate", rec, err)
		}
	})
}
