package ca

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// MaxCSRSize bounds a certificate request.
const MaxCSRSize = 64 << 10

// ParseCSR reads a PKCS#10 request, PEM or DER, and checks that it is
// signed by the key it carries (proof of possession) and that the key is
// one this CA certifies. Every refusal wraps ErrBadRequest.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > MaxCSRSize {
		return nil, badRequest("the CSR is larger than %d bytes", MaxCSRSize)
	}
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, badRequest("the PEM block is %q, not a CERTIFICATE REQUEST", block.Type)
		}
		der = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, badRequest("the CSR does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, badRequest("the CSR's signature does not verify (it was not made with the key it carries): %v", err)
	}
	if err := checkKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("the CSR's key: %w", err)
	}
	return csr, nil
}
