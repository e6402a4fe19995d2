package console

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
)

// TLSConfig is the console listener's TLS configuration: server presents
// the appliance's TLS certificate; clients must present a certificate that
// the admin CA signed directly, with id-kp-clientAuth, valid now. TLS 1.2
// with ECDHE AEAD suites at least (Go negotiates 1.3 whenever the client
// offers it). Session tickets are off: every connection verifies the
// client certificate afresh. The handler checks the officer and the
// certificate's status on every request.
func TLSConfig(server tls.Certificate, adminCA *x509.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	if adminCA != nil {
		pool.AddCert(adminCA)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		CipherSuites: []uint16{ // TLS 1.2 only; the TLS 1.3 suites are all AEAD
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if adminCA == nil || len(cs.VerifiedChains) == 0 {
				return errors.New("console: no verified client certificate")
			}
			if !directlyIssued(cs.VerifiedChains[0], adminCA) {
				return errors.New("console: the client certificate was not issued by the admin CA")
			}
			return nil
		},
	}
}

// directlyIssued reports whether chain is [leaf, adminCA] with the leaf
// signed by adminCA's key and meant for client authentication.
func directlyIssued(chain []*x509.Certificate, adminCA *x509.Certificate) bool {
	if len(chain) != 2 || !chain[1].Equal(adminCA) {
		return false
	}
	leaf := chain[0]
	return leaf.CheckSignatureFrom(adminCA) == nil && slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
}
