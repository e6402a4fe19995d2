package ca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/psre/appliance/ca"
)

func csrDER(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseCSR(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := csrDER(t, ec)
	badSig := append([]byte(nil), good...)
	badSig[len(badSig)-3] ^= 0xff
	tests := []struct {
		name string
		data []byte
		msg  string
	}{
		{"DER", good, ""},
		{"PEM", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: good}), ""},
		{"bad signature", badSig, "signature does not verify"},
		{"weak RSA key", csrDER(t, weak), "RSA-1024"},
		{"not a CSR", []byte("hello"), "does not parse"},
		{"certificate PEM", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: good}), "not a CERTIFICATE REQUEST"},
		{"too large", make([]byte, ca.MaxCSRSize+1), "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			csr, err := ca.ParseCSR(tc.data)
			if tc.msg == "" {
				if err != nil || csr == nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if !errors.Is(err, ca.ErrBadRequest) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want ErrBadRequest mentioning %q", err, tc.msg)
			}
		})
	}
}

func FuzzParseCSR(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := csrDER(f, ec)
	f.Add(good)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: good}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ca.ParseCSR(data)
		if err != nil {
			if !errors.Is(err, ca.ErrBadRequest) {
				t.Fatalf("refusal does not wrap ErrBadRequest: %v", err)
			}
			return
		}
		if csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR whose signature does not verify")
		}
	})
}
