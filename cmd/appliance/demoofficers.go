package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/store"
)

// demoOfficers are the officers `appliance demo` creates, one per role,
// with their files in DIR/officers/{cs,ra,auditor}.{crt,key,p12}.
var demoOfficers = []struct{ base, name, role string }{
	{"cs", "Demo CS", store.RoleCS},
	{"ra", "Demo RA", store.RoleRA},
	{"auditor", "Demo Auditor", store.RoleAuditor},
}

// consoleKeyLabel is the console's TLS key on the ca token; its
// certificate (admin CA, tls profile, for localhost) is pki/console.pem.
const consoleKeyLabel = "console-tls"

// initOfficers creates the demo officers and the console's TLS certificate
// that do not exist yet.
func (d *demo) initOfficers(ctx context.Context) error {
	st, err := openState(ctx, d.dir, demoSettings(defaultPortalAddr), d.metrics, d.log, ca.Hooks{})
	if err != nil {
		return err
	}
	defer st.close()
	if err := os.MkdirAll(d.path("officers"), 0o700); err != nil {
		return err
	}
	ops := directOps{st}
	created := false
	defer func() {
		if created {
			fmt.Fprintf(d.out, "To use the console (https://localhost:8081/), import an officer's .p12 in the browser with its password:\n"+
				"  Firefox: Settings > Privacy & Security > Certificates > View Certificates > Your Certificates > Import\n"+
				"  Chromium: Settings > Privacy and security > Security > Manage certificates > Import\n"+
				"and trust %s as a certificate authority (or accept the browser's warning once).\n", d.path("pki", "root.pem"))
		}
	}()
	for _, o := range demoOfficers {
		files := newOfficerFiles(d.path("officers"), o.base)
		if _, err := os.Stat(files.cert); err == nil {
			continue
		}
		var recorded bool
		st.db.View(func(tx *bolt.Tx) error {
			_, err := store.OfficerByName(tx, o.name)
			recorded = err == nil
			return nil
		})
		if recorded {
			d.log.Warn("demo officer is recorded but its files are missing; add another with `appliance officer add`", "officer", o.name)
			continue
		}
		spec := officerSpec{stateDir: d.dir, files: files,
			req: officerRequest{Name: o.name, Role: o.role, Email: o.base + "@psre.example"}}
		if _, err := createOfficer(ctx, ops, spec, d.out); err != nil {
			return fmt.Errorf("demo officer %s: %w", o.name, err)
		}
		created = true
	}
	return d.initConsoleCert(ctx, st)
}

// initConsoleCert gives the console listener a key in the HSM and a
// certificate from the admin CA for localhost.
func (d *demo) initConsoleCert(ctx context.Context, st *state) error {
	path := d.path("pki", "console.pem")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	uri := hsm.URI{Token: "ca", Object: consoleKeyLabel}
	signer, err := st.tok.Signer(ctx, uri)
	if errors.Is(err, hsm.ErrKeyNotFound) {
		signer, _, err = st.tok.GenerateKeyPair(ctx, consoleKeyLabel, hsm.ECDSAP256)
	}
	if err != nil {
		return fmt.Errorf("console TLS key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "localhost"}}, signer)
	if err != nil {
		return fmt.Errorf("console TLS request: %w", err)
	}
	res, err := directOps{st}.issue(ctx, issueRequest{Profile: string(ca.ProfileTLS), CSR: csr, DNS: []string{"localhost"}}, "demo")
	if err != nil {
		return fmt.Errorf("console TLS certificate: %w", err)
	}
	return writeIfAbsent(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.DER}), 0o644)
}
