package ocsp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/psre/appliance/ca/ocsp"
	xocsp "golang.org/x/crypto/ocsp"
)

// parse checks that resp is a successful response signed by the delegated
// responder of the issuing CA and returns it.
func (f *fixture) parse(t testing.TB, resp []byte) *xocsp.Response {
	t.Helper()
	r, err := xocsp.ParseResponse(resp, f.issuing)
	if err != nil {
		t.Fatalf("parse response: %v", err)
	}
	if r.Certificate == nil || !bytes.Equal(r.Certificate.Raw, f.responderCert.Raw) {
		t.Fatal("the response does not carry the responder certificate")
	}
	return r
}

func TestGoodRevokedUnknown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.responder(t, nil, nil)
	good, revoked, unknown := f.leaf(t, 0x1001, false), f.leaf(t, 0x1002, false), f.leaf(t, 0x1003, false)
	revokedAt := f.clock.Now().Add(-2 * time.Hour)
	f.status.set(0x1001, ocsp.CertStatus{Status: xocsp.Good})
	f.status.set(0x1002, ocsp.CertStatus{Status: xocsp.Revoked, RevokedAt: revokedAt, Reason: xocsp.KeyCompromise})
	now := f.clock.Now().Truncate(time.Second)
	keyHash := responderKeyHash(t, f)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		for _, tc := range []struct {
			cert *x509.Certificate
			want int
		}{{good, xocsp.Good}, {revoked, xocsp.Revoked}, {unknown, xocsp.Unknown}} {
			resp, live, err := r.Respond(ctx, f.request(t, tc.cert, h))
			if err != nil || !live {
				t.Fatalf("%v %x: live=%v err=%v", h, tc.cert.SerialNumber, live, err)
			}
			p := f.parse(t, resp)
			if p.Status != tc.want || p.SerialNumber.Cmp(tc.cert.SerialNumber) != 0 || p.IssuerHash != h {
				t.Fatalf("%v %x: status %d serial %x hash %v", h, tc.cert.SerialNumber, p.Status, p.SerialNumber, p.IssuerHash)
			}
			if !p.ThisUpdate.Equal(now) || !p.ProducedAt.Equal(now) || p.NextUpdate.Sub(p.ThisUpdate) != 24*time.Hour {
				t.Fatalf("times: produced %v this %v next %v, now %v", p.ProducedAt, p.ThisUpdate, p.NextUpdate, now)
			}
			if !bytes.Equal(p.ResponderKeyHash, keyHash) || p.SignatureAlgorithm != x509.ECDSAWithSHA256 {
				t.Fatalf("responder ID %x (want byKey %x), algorithm %v", p.ResponderKeyHash, keyHash, p.SignatureAlgorithm)
			}
			if tc.want == xocsp.Revoked && (!p.RevokedAt.Equal(revokedAt.Truncate(time.Second)) || p.RevocationReason != xocsp.KeyCompromise) {
				t.Fatalf("revoked at %v reason %d", p.RevokedAt, p.RevocationReason)
			}
		}
	}
	// Known serials are now cached (per CertID hash); unknown ones never are.
	for _, tc := range []struct {
		cert *x509.Certificate
		live bool
	}{{good, false}, {revoked, false}, {unknown, true}} {
		if _, live, err := r.Respond(ctx, f.request(t, tc.cert, crypto.SHA256)); err != nil || live != tc.live {
			t.Fatalf("second request for %x: live=%v err=%v", tc.cert.SerialNumber, live, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.responder(t, nil, nil)
	leaf := f.leaf(t, 0x2001, false)
	f.status.set(0x2001, ocsp.CertStatus{Status: xocsp.Good})
	req := f.request(t, leaf, crypto.SHA1)
	twoCerts := func() []byte {
		var m struct {
			TBS struct{ List []asn1.RawValue }
		}
		if _, err := asn1.Unmarshal(req, &m); err != nil {
			t.Fatal(err)
		}
		m.TBS.List = append(m.TBS.List, m.TBS.List[0])
		der, _ := asn1.Marshal(m)
		return der
	}()
	sha512, err := xocsp.CreateRequest(leaf, f.issuing, &xocsp.RequestOptions{Hash: crypto.SHA512})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		req  []byte
		want []byte
	}{
		"empty":             {nil, xocsp.MalformedRequestErrorResponse},
		"garbage":           {[]byte("GET / HTTP/1.1\r\n"), xocsp.MalformedRequestErrorResponse},
		"truncated":         {req[:len(req)-3], xocsp.MalformedRequestErrorResponse},
		"trailing data":     {append(bytes.Clone(req), 0), xocsp.MalformedRequestErrorResponse},
		"two certificates":  {twoCerts, xocsp.MalformedRequestErrorResponse},
		"nonce too long":    {withNonce(t, req, make([]byte, 33)), xocsp.MalformedRequestErrorResponse},
		"empty nonce":       {withNonce(t, req, nil), xocsp.MalformedRequestErrorResponse},
		"foreign issuer":    {f.request(t, f.leaf(t, 0x2001, true), crypto.SHA1), xocsp.UnauthorizedErrorResponse},
		"SHA-512 CertID":    {sha512, xocsp.UnauthorizedErrorResponse},
		"critical unknown":  {withExtensions(t, req, critical()), xocsp.MalformedRequestErrorResponse},
		"nonce not wrapped": {withExtensions(t, req, rawNonce()), xocsp.MalformedRequestErrorResponse},
	} {
		resp, live, err := r.Respond(ctx, tc.req)
		if !bytes.Equal(resp, tc.want) || live || err == nil {
			t.Errorf("%s: got %x live=%v err=%v, want %x", name, resp, live, err, tc.want)
		}
	}
	f.status.setFail(true)
	resp, _, err := r.Respond(ctx, req)
	if !bytes.Equal(resp, xocsp.InternalErrorErrorResponse) || err == nil {
		t.Fatalf("status lookup failure: %x %v", resp, err)
	}
	if f.key.n.Load() != 0 {
		t.Fatalf("%d signatures for refused requests", f.key.n.Load())
	}
}

func TestNonce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.responder(t, nil, nil)
	leaf := f.leaf(t, 0x3001, false)
	f.status.set(0x3001, ocsp.CertStatus{Status: xocsp.Good})
	plain, _, err := r.Respond(ctx, f.request(t, leaf, crypto.SHA1))
	if err != nil {
		t.Fatal(err)
	}
	if exts := responseExtensions(t, plain); len(exts) != 0 {
		t.Fatalf("a response without nonce has extensions %v", exts)
	}
	for _, n := range []int{1, 16, 32} {
		nonce := bytes.Repeat([]byte{byte(n)}, n)
		req := withNonce(t, f.request(t, leaf, crypto.SHA1), nonce)
		for range 2 {
			resp, live, err := r.Respond(ctx, req)
			if err != nil || !live {
				t.Fatalf("nonce %d: live=%v err=%v", n, live, err)
			}
			if p := f.parse(t, resp); p.Status != xocsp.Good {
				t.Fatalf("nonce %d: status %d", n, p.Status)
			}
			exts := responseExtensions(t, resp)
			var got []byte
			if len(exts) != 1 || !exts[0].Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}) {
				t.Fatalf("nonce %d: response extensions %v", n, exts)
			}
			if _, err := asn1.Unmarshal(exts[0].Value, &got); err != nil || !bytes.Equal(got, nonce) {
				t.Fatalf("nonce %d: echoed %x (%v)", n, got, err)
			}
		}
	}
}

func TestNewChecksTheResponderCertificate(t *testing.T) {
	f := newFixture(t)
	good := f.signer()
	cases := map[string]func(*ocsp.Signer){
		"wrong key":     func(s *ocsp.Signer) { s.Key = newKey(t, f.issuingKey.Curve) },
		"wrong issuer":  func(s *ocsp.Signer) { s.Issuer = f.foreign },
		"no EKU":        func(s *ocsp.Signer) { c := *s.Responder; c.ExtKeyUsage = nil; s.Responder = &c },
		"not yet valid": func(s *ocsp.Signer) { c := *s.Responder; c.NotBefore = f.clock.Now().Add(time.Hour); s.Responder = &c },
		"expired": func(s *ocsp.Signer) {
			c := *s.Responder
			c.NotAfter = f.clock.Now().Add(-time.Second)
			s.Responder = &c
		},
		"missing CA":     func(s *ocsp.Signer) { s.CA = "" },
		"issuer as self": func(s *ocsp.Signer) { s.Responder = f.issuing },
	}
	for name, mutate := range cases {
		s := good
		mutate(&s)
		if _, err := ocsp.New(ocsp.Config{Signers: []ocsp.Signer{s}, Status: f.status.lookup, Now: f.clock.Now}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ocsp.New(ocsp.Config{Signers: []ocsp.Signer{good, good}, Status: f.status.lookup, Now: f.clock.Now}); err == nil {
		t.Error("the same CA twice: accepted")
	}
	if _, err := ocsp.New(ocsp.Config{Signers: []ocsp.Signer{good}, Now: f.clock.Now}); err == nil {
		t.Error("no status function: accepted")
	}
	if _, err := ocsp.New(ocsp.Config{Signers: []ocsp.Signer{good}, Status: f.status.lookup, Now: f.clock.Now}); err != nil {
		t.Errorf("good signer refused: %v", err)
	}
}

func TestNextUpdateWithinResponderValidity(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	short := *f.responderCert
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(40), Subject: short.Subject, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
	}
	s := f.signer()
	s.Responder = mustCert(t, tmpl, f.issuing, f.key.Public(), f.issuingKey)
	r, err := ocsp.New(ocsp.Config{Signers: []ocsp.Signer{s}, Status: f.status.lookup, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	leaf := f.leaf(t, 0x4100, false)
	f.status.set(0x4100, ocsp.CertStatus{Status: xocsp.Good})
	resp, _, err := r.Respond(context.Background(), f.request(t, leaf, crypto.SHA1))
	if err != nil {
		t.Fatal(err)
	}
	p, err := xocsp.ParseResponse(resp, f.issuing)
	if err != nil || !p.NextUpdate.Equal(s.Responder.NotAfter) {
		t.Fatalf("nextUpdate %v, responder expires %v (%v)", p.NextUpdate, s.Responder.NotAfter, err)
	}
	f.clock.advance(11 * time.Hour)
	if resp, _, err := r.Respond(context.Background(), f.request(t, leaf, crypto.SHA1)); err == nil || !bytes.Equal(resp, xocsp.InternalErrorErrorResponse) {
		t.Fatalf("signing with an expired responder certificate: %x %v", resp, err)
	}
}
