package tsaclient

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/psre/appliance/signing"
)

var _ signing.Timestamper = (*Client)(nil)

// tsaServer answers RFC 3161 requests; tamper may alter the answer.
func tsaServer(t *testing.T, tamper func(*timestamp.Timestamp)) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test TSA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := timestamp.ParseRequest(body)
		if err != nil || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ts := &timestamp.Timestamp{
			HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Nonce: req.Nonce,
			Time: time.Now(), Policy: asn1.ObjectIdentifier{1, 2, 3}, AddTSACertificate: req.Certificates,
		}
		if tamper != nil {
			tamper(ts)
		}
		resp, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClient(t *testing.T) {
	digest := sha256.Sum256([]byte("signature value"))
	for _, c := range []struct {
		name    string
		tamper  func(*timestamp.Timestamp)
		wantErr string
	}{
		{"good", nil, ""},
		{"wrong imprint", func(ts *timestamp.Timestamp) { ts.HashedMessage = make([]byte, 32) }, "message imprint"},
		{"wrong nonce", func(ts *timestamp.Timestamp) { ts.Nonce = big.NewInt(7) }, "nonce"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := tsaServer(t, c.tamper)
			token, err := (&Client{URL: srv.URL}).Timestamp(context.Background(), digest[:], crypto.SHA256)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ts, err := timestamp.Parse(token)
			if err != nil || string(ts.HashedMessage) != string(digest[:]) {
				t.Errorf("token: %v, %+v", err, ts)
			}
		})
	}
	if _, err := (&Client{URL: "http://127.0.0.1:1/tsa"}).Timestamp(context.Background(), digest[:], crypto.SHA256); err == nil {
		t.Error("no error from an unreachable TSA")
	}
}
