package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/psre/appliance/console"
	"github.com/psre/appliance/hsm"
)

// listenConsole opens the officers' console on addr: TLS with the console
// key in the HSM and its admin-CA certificate, client certificates from
// the admin CA required. A layout without a console certificate, or an
// empty addr, has no console.
func (s *service) listenConsole(ctx context.Context, l layout, addr string, reg prometheus.Registerer) error {
	if l.ConsoleCert == "" || addr == "" {
		return nil
	}
	leaf, err := readCertFile(l.ConsoleCert)
	if err != nil {
		return fmt.Errorf("console certificate: %w", err)
	}
	signer, err := s.st.tok.Signer(ctx, hsm.URI{Token: l.Token, Object: l.ConsoleKey})
	if err != nil {
		return fmt.Errorf("console TLS key: %w", err)
	}
	admin := s.st.certs["admin"]
	if err := leaf.CheckSignatureFrom(admin); err != nil {
		return fmt.Errorf("console certificate %s is not from the admin CA: %w", l.ConsoleCert, err)
	}
	csrfKey := make([]byte, 32)
	if _, err := rand.Read(csrfKey); err != nil {
		return err
	}
	c, err := console.New(console.Config{Service: s.st.enroll, DB: s.st.db, AdminCA: admin, AuditKey: s.st.auditKey,
		AuditEvery: s.st.settings.AuditEvery, RAApprovals: s.st.settings.RAApprovals, CSRFKey: csrfKey,
		Logger: s.log, Registerer: reg})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (console): %w", addr, err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leaf.Raw, admin.Raw}, PrivateKey: signer, Leaf: leaf}
	s.consoleLn = tls.NewListener(ln, console.TLSConfig(cert, admin))
	s.console = c.Handler()
	return nil
}
