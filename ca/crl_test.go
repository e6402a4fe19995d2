package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/store"
)

func TestRevokeAndCRL(t *testing.T) {
	tc := newTestCA(t)
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := tc.issuer.Issue(ctx, ca.Request{Profile: ca.ProfileOfficer, PublicKey: key.Public(), Name: "Officer", Requester: "test"})
	if err != nil {
		t.Fatal(err)
	}
	serial := ca.SerialHex(cert.SerialNumber)
	linter, _ := lint.New()
	crls, err := ca.NewCRLSigner(ca.CRLConfig{Name: "issuing", Certificate: tc.issuing, Signer: tc.issuerSigner, DB: tc.db, Linter: linter})
	if err != nil {
		t.Fatal(err)
	}
	first, err := crls.Sign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Number != 1 || first.NextUpdate.Sub(first.ThisUpdate) != ca.DefaultCRLLifetime {
		t.Fatalf("first CRL %d, %v..%v", first.Number, first.ThisUpdate, first.NextUpdate)
	}

	inval := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	rv := store.Revocation{Reason: 1, InvalidityDate: inval, Actor: "ra-officer", At: time.Now()}
	if _, changed, err := tc.db.Revoke(serial, rv); err != nil || !changed {
		t.Fatalf("revoke: changed=%v, %v", changed, err)
	}
	if _, changed, err := tc.db.Revoke(serial, rv); err != nil || changed {
		t.Fatalf("the same revocation again: changed=%v, %v", changed, err)
	}
	other := rv
	other.Reason = 4
	if _, _, err := tc.db.Revoke(serial, other); !errors.Is(err, store.ErrRevokedDifferently) {
		t.Fatalf("a different story: %v", err)
	}
	if _, _, err := tc.db.Revoke("abcdef", rv); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown serial: %v", err)
	}
	second, err := crls.Sign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.Number != 2 {
		t.Fatalf("second CRL number %d", second.Number)
	}
	path := filepath.Join(tc.dir, "issuing.crl")
	if err := os.WriteFile(path, second.DER, 0o644); err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(tc.dir, "issuing.pem")
	writePEM(t, chain, tc.issuing.Raw)
	out, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", path, "-CAfile", chain, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	text := strings.ToUpper(strings.ReplaceAll(string(out), ":", ""))
	for _, want := range []string{strings.ToUpper(serial), "KEY COMPROMISE", "INVALIDITY DATE", "CRL NUMBER", "VERIFY OK"} {
		if !strings.Contains(text, strings.ReplaceAll(strings.ToUpper(want), ":", "")) {
			t.Errorf("openssl crl output lacks %q:\n%s", want, out)
		}
	}
}

// TestCRLCatchesUpAfterAnInterruptedRevocation: a revocation committed
// without its CRL (a crash in between) is put on a CRL by the next
// start-up's refresh, though the latest CRL is far from its half-life.
func TestCRLCatchesUpAfterAnInterruptedRevocation(t *testing.T) {
	tc := newTestCA(t)
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := tc.issuer.Issue(ctx, ca.Request{Profile: ca.ProfileOfficer, PublicKey: key.Public(), Name: "Officer", Requester: "test"})
	if err != nil {
		t.Fatal(err)
	}
	linter, _ := lint.New()
	crls, err := ca.NewCRLSigner(ca.CRLConfig{Name: "issuing", Certificate: tc.issuing, Signer: tc.issuerSigner, DB: tc.db, Linter: linter})
	if err != nil {
		t.Fatal(err)
	}
	newAuthority := func() *ca.Authority {
		a, err := ca.NewAuthority(ctx, ca.AuthorityConfig{DB: tc.db, Issuers: []*ca.Issuer{tc.issuer}, CRLSigners: []*ca.CRLSigner{crls}, Logger: slogDiscard()})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if n, err := newAuthority().RefreshCRLs(ctx); err != nil || n != 1 {
		t.Fatalf("first CRL: %d, %v", n, err)
	}
	// The crash: the revocation is committed, its CRL never signed.
	if _, _, err := tc.db.Revoke(ca.SerialHex(cert.SerialNumber), store.Revocation{Reason: 1, Actor: "t", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a := newAuthority()
	if n, err := a.RefreshCRLs(ctx); err != nil || n != 1 {
		t.Fatalf("refresh after restart signed %d CRLs (%v), want 1", n, err)
	}
	der, err := a.CRL("issuing")
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Fatalf("CRL %v entries %v, want the revoked serial", crl.Number, crl.RevokedCertificateEntries)
	}
	if n, err := newAuthority().RefreshCRLs(ctx); err != nil || n != 0 {
		t.Fatalf("a further restart signed %d CRLs (%v), want 0", n, err)
	}
}
