package main_test

// The README's officer flow against a serving demo: an officer certificate
// checked with `openssl ocsp` (with and without a nonce) before and after
// its revocation, the served CRL, and the responder's answers to unknown
// serials, foreign issuers, garbage and GET requests, then its metrics.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// opensslOCSP asks the portal's responder about cert (of the admin CA) with
// openssl, as the README does.
func opensslOCSP(t *testing.T, dir, portal, cert string, extra ...string) result {
	t.Helper()
	pki := filepath.Join(dir, "pki")
	args := append([]string{"ocsp", "-issuer", filepath.Join(pki, "admin.pem"), "-cert", cert,
		"-url", portal + "/ocsp", "-CAfile", filepath.Join(pki, "root.pem")}, extra...)
	return runCmd(t, nil, "openssl", args...)
}

// ocspDo sends an OCSP request to the portal and requires HTTP 200.
func ocspDo(t *testing.T, s *server, method, u string, body []byte) (http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/ocsp-request")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %v\n%q", method, u, resp.Status, err, der)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/ocsp-response" {
		t.Errorf("%s %s: Content-Type %q, want application/ocsp-response", method, u, ct)
	}
	return resp.Header, der
}

// unknownSerialRequest is a SHA-1 CertID request naming issuer and a random
// 128-bit serial it never issued.
func unknownSerialRequest(t *testing.T, issuer *x509.Certificate) ([]byte, *big.Int) {
	t.Helper()
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	nameHash, keyHash := sha1.Sum(issuer.RawSubject), sha1.Sum(spki.PublicKey.RightAlign())
	req := &ocsp.Request{HashAlgorithm: crypto.SHA1, IssuerNameHash: nameHash[:], IssuerKeyHash: keyHash[:], SerialNumber: serial}
	der, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der, serial
}

// foreignRequest is a request for a leaf of a throwaway self-signed CA.
func foreignRequest(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Foreign CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	der, err := ocsp.CreateRequest(leaf, caCert, nil)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// wantRefusal requires der to be an unsigned OCSP error response of status.
func wantRefusal(t *testing.T, what string, der []byte, status ocsp.ResponseStatus) {
	t.Helper()
	_, err := ocsp.ParseResponse(der, nil)
	var re ocsp.ResponseError
	if !errors.As(err, &re) || re.Status != status {
		t.Errorf("%s: ParseResponse error %v, want a ResponseError %v", what, err, status)
	}
}

// parseOCSP parses a signed response, checking its signature by a responder
// certificate issued by issuer, and requires the serial and status.
func parseOCSP(t *testing.T, what string, der []byte, issuer *x509.Certificate, serial *big.Int, status int) *ocsp.Response {
	t.Helper()
	resp, err := ocsp.ParseResponse(der, issuer)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if resp.SerialNumber.Cmp(serial) != 0 || resp.Status != status {
		t.Errorf("%s: serial %x status %d, want serial %x status %d", what, resp.SerialNumber, resp.Status, serial, status)
	}
	return resp
}

// metricSeries sums the samples of name by the value of label.
func metricSeries(t *testing.T, body, name, label string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			t.Fatalf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		for _, l := range strings.Split(labels, ",") {
			if k, val, _ := strings.Cut(l, "="); k == label {
				out[strings.Trim(val, `"`)] += v
			}
		}
	}
	return out
}

func TestOCSPOfficerFlow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	initDemo(t, dir)
	s := startServer(t, dir)
	portal := s.waitLine(t, portalLine)
	s.waitLine(t, adminLine) // the admin socket answers: cert commands go through it
	pki := func(name string) string { return filepath.Join(dir, "pki", name) }
	adminCert, issuingCert := readCert(t, pki("admin.pem")), readCert(t, pki("issuing.pem"))
	out := t.TempDir()

	officerPath := filepath.Join(out, "officer.pem")
	serial, officer := issueCert(t, dir, "officer", newCSR(t, "Siti Rahayu"), officerPath, "--email", "siti@example.co.id")
	verifyChain(t, dir, officerPath)

	checkOpenSSL := func(t *testing.T, want string, more ...string) {
		t.Helper()
		for _, extra := range [][]string{nil, {"-no_nonce"}} {
			r := opensslOCSP(t, dir, portal, officerPath, extra...)
			all := r.stdout + r.stderr
			if r.code != 0 || !strings.Contains(r.stdout, officerPath+": "+want) || !strings.Contains(all, "Response verify OK") {
				t.Errorf("openssl ocsp %q: want exit 0, %q and Response verify OK:\n%s", extra, officerPath+": "+want, r)
			}
			for _, m := range more {
				if !strings.Contains(r.stdout, m) {
					t.Errorf("openssl ocsp %q: stdout lacks %q:\n%s", extra, m, r)
				}
			}
			if extra == nil && strings.Contains(all, "WARNING: no nonce in response") {
				t.Errorf("openssl ocsp with a nonce: the response carries none:\n%s", r)
			}
		}
	}
	if !t.Run("good", func(t *testing.T) { checkOpenSSL(t, "good") }) {
		return
	}

	_, crlDER := s.fetch(t, portal+"/crl/admin.crl")
	before, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		t.Fatalf("GET /crl/admin.crl: %v", err)
	}
	if r := appliance(t, nil, "cert", "revoke", "--state", dir, "--serial", serial, "--reason", "keyCompromise"); r.code != 0 {
		t.Fatalf("cert revoke:\n%s", r)
	}
	t.Run("revoked", func(t *testing.T) {
		// At once, on both paths: the cached response was replaced.
		checkOpenSSL(t, "revoked", "Reason: keyCompromise", "Revocation Time: ")
	})

	var revokedAt time.Time // on the served CRL
	t.Run("crl", func(t *testing.T) {
		h, der := s.fetch(t, portal+"/crl/admin.crl")
		if ct := h.Get("Content-Type"); ct != "application/pkix-crl" {
			t.Errorf("Content-Type %q", ct)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(adminCert); err != nil {
			t.Error(err)
		}
		if crlReason(crl, serial) != 1 || crl.Number.Cmp(before.Number) <= 0 {
			t.Errorf("served CRL number %v (before the revocation %v), reason of %s %d: want a greater number and 1 (keyCompromise)",
				crl.Number, before.Number, serial, crlReason(crl, serial))
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(officer.SerialNumber) == 0 {
				revokedAt = e.RevocationTime
			}
		}
	})

	t.Run("responder", func(t *testing.T) {
		tlsPath := filepath.Join(out, "tls.pem")
		_, tlsCert := issueCert(t, dir, "tls", newCSR(t, "ignored"), tlsPath, "--dns", "appliance.example")
		req, err := ocsp.CreateRequest(tlsCert, adminCert, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, der := ocspDo(t, s, http.MethodPost, portal+"/ocsp", req)
		resp := parseOCSP(t, "tls certificate", der, adminCert, tlsCert.SerialNumber, ocsp.Good)
		if adminResponder := readCert(t, pki("ocsp-admin.pem")); resp.Certificate == nil || !resp.Certificate.Equal(adminResponder) {
			t.Errorf("tls certificate: response not signed by the admin CA's delegated responder (pki/ocsp-admin.pem)")
		}

		req, unknown := unknownSerialRequest(t, adminCert)
		_, der = ocspDo(t, s, http.MethodPost, portal+"/ocsp", req)
		parseOCSP(t, "unknown admin serial", der, adminCert, unknown, ocsp.Unknown)

		_, der = ocspDo(t, s, http.MethodPost, portal+"/ocsp", foreignRequest(t))
		wantRefusal(t, "foreign issuer", der, ocsp.Unauthorized)
		_, der = ocspDo(t, s, http.MethodPost, portal+"/ocsp", []byte("this is not an OCSP request"))
		wantRefusal(t, "garbage body", der, ocsp.Malformed)
		// "%%%%" escaped (net/http refuses a raw %%%% with 400 before any
		// handler runs), and a path that is no base64 either.
		for _, p := range []string{"/ocsp/%25%25%25%25", "/ocsp/!!!!"} {
			h, der := ocspDo(t, s, http.MethodGet, portal+p, nil)
			wantRefusal(t, "GET "+p, der, ocsp.Malformed)
			if cc := h.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("GET %s: Cache-Control %q, want no-store", p, cc)
			}
		}

		req, err = ocsp.CreateRequest(officer, adminCert, nil)
		if err != nil {
			t.Fatal(err)
		}
		u := portal + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))
		h, der := ocspDo(t, s, http.MethodGet, u, nil)
		if cc := h.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
			t.Errorf("GET %s: Cache-Control %q, want max-age", u, cc)
		}
		resp = parseOCSP(t, "GET officer", der, adminCert, officer.SerialNumber, ocsp.Revoked)
		if resp.RevocationReason != ocsp.KeyCompromise || resp.RevokedAt.IsZero() || !resp.RevokedAt.Equal(revokedAt) {
			t.Errorf("GET officer: reason %d revoked at %v, want keyCompromise at %v (the CRL's time)", resp.RevocationReason, resp.RevokedAt, revokedAt)
		}
	})

	t.Run("issuing CA", func(t *testing.T) {
		req, unknown := unknownSerialRequest(t, issuingCert)
		_, der := ocspDo(t, s, http.MethodPost, portal+"/ocsp", req)
		resp := parseOCSP(t, "unknown issuing serial", der, issuingCert, unknown, ocsp.Unknown)
		if responder := readCert(t, pki("ocsp.pem")); resp.Certificate == nil || !resp.Certificate.Equal(responder) {
			t.Errorf("unknown issuing serial: response not signed by the issuing CA's delegated responder (pki/ocsp.pem)")
		}
	})

	t.Run("metrics", func(t *testing.T) {
		body := s.get(t, s.metrics, "")
		byStatus := metricSeries(t, body, "appliance_ocsp_responses_total", "status")
		for _, st := range []string{"good", "revoked", "unknown", "malformed", "unauthorized"} {
			if byStatus[st] <= 0 {
				t.Errorf("appliance_ocsp_responses_total{status=%q} sums to %v, want > 0 (by status: %v)", st, byStatus[st], byStatus)
			}
		}
		if !strings.Contains(body, "appliance_ocsp_signing_duration_seconds_bucket{") ||
			!strings.Contains(body, "appliance_ocsp_signing_duration_seconds_count ") ||
			strings.Contains(body, "appliance_ocsp_signing_duration_seconds_count 0\n") {
			t.Errorf("/metrics lacks observations of appliance_ocsp_signing_duration_seconds")
		}
	})

	s.stop(t)
}
