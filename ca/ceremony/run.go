package ceremony

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/hsm"
)

// Options are the runtime settings of a ceremony.
type Options struct {
	Out      io.Writer        // progress lines; nil: os.Stdout
	Prompter hsm.Prompter     // for pin sources "prompt"; nil: the terminal
	Logger   *slog.Logger     // nil: slog.Default()
	Metrics  *hsm.Metrics     // nil: none
	Now      func() time.Time // nil: time.Now
}

// Result says what a ceremony produced.
type Result struct {
	KeyURI  hsm.URI
	Outputs map[string]string // path -> SHA-256 of the DER
}

type runner struct {
	pl     *plan
	opts   Options
	tr     *transcript
	mod    *hsm.Module
	tokens map[string]*hsm.Token
	linter *lint.Linter
	out    *output
	pubOut *output
	result Result
}

// Run loads, validates and runs the ceremony in the file at path. Nothing is
// created (no HSM object, no file, no transcript line) unless validation
// passes.
func Run(ctx context.Context, path string, opts Options) (*Result, error) {
	cfg, err := Load(path)
	if err != nil {
		return nil, err
	}
	return RunConfig(ctx, cfg, opts)
}

// RunConfig runs a loaded ceremony.
func RunConfig(ctx context.Context, cfg *Config, opts Options) (*Result, error) {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	pl, err := cfg.plan(opts.Now())
	if err != nil {
		return nil, err
	}
	linter, err := lint.New()
	if err != nil {
		return nil, err
	}
	pins, err := readPINs(cfg, opts.Prompter)
	if err != nil {
		return nil, err
	}
	tr, err := openTranscript(cfg, opts.Out, opts.Now)
	if err != nil {
		return nil, err
	}
	defer tr.close()
	r := &runner{pl: pl, opts: opts, tr: tr, tokens: map[string]*hsm.Token{}, linter: linter,
		result: Result{Outputs: map[string]string{}}}
	if err := r.step(Entry{Step: "validated", Detail: "config " + cfg.Path()}); err != nil {
		return nil, err
	}
	err = r.run(ctx, pins)
	r.close()
	if err != nil {
		_ = r.step(Entry{Step: "failed", Error: err.Error()})
		return nil, fmt.Errorf("%s ceremony: %w", cfg.Type, err)
	}
	if err := r.step(Entry{Step: "done", KeyURI: r.result.KeyURI.String(), Outputs: r.result.Outputs}); err != nil {
		return nil, err
	}
	return &r.result, nil
}

func readPINs(cfg *Config, prompt hsm.Prompter) (map[string]string, error) {
	labels := make([]string, 0, len(cfg.HSM.PINs))
	for l := range cfg.HSM.PINs {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	pins := map[string]string{}
	for _, l := range labels {
		pin, err := hsm.ReadPIN(hsm.PINSource(cfg.HSM.PINs[l]), "token "+l, prompt)
		if err != nil {
			return nil, err
		}
		pins[l] = pin
	}
	return pins, nil
}

func (r *runner) step(e Entry) error { return r.tr.record(e) }

// progress records a sub-step of signing.
func (r *runner) progress(step, detail string) { _ = r.step(Entry{Step: step, Detail: detail}) }

func (r *runner) close() {
	r.out.abandon()
	r.pubOut.abandon()
	for _, t := range r.tokens {
		t.Close()
	}
	if r.mod != nil {
		r.mod.Close()
	}
}

func (r *runner) run(ctx context.Context, pins map[string]string) error {
	mod, err := hsm.OpenModule(r.pl.cfg.HSM.Module, hsm.ModuleOptions{Logger: r.opts.Logger, Metrics: r.opts.Metrics})
	if err != nil {
		return err
	}
	r.mod = mod
	labels := make([]string, 0, len(pins))
	for l := range pins {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		tok, err := mod.OpenToken(ctx, hsm.URI{Token: l}, pins[l], hsm.TokenOptions{})
		if err != nil {
			return err
		}
		r.tokens[l] = tok
		if err := r.step(Entry{Step: "login", Detail: fmt.Sprintf("token %s serial %s", l, tok.Serial())}); err != nil {
			return err
		}
	}
	if err := r.preflight(ctx); err != nil {
		return err
	}
	if err := r.createOutputs(); err != nil {
		return err
	}
	switch r.pl.cfg.Type {
	case TypeKey:
		return r.keyCeremony(ctx)
	case TypeRoot, TypeSubordinate, TypeOCSPSigner, TypeTSA:
		return r.certificateCeremony(ctx)
	case TypeCSR:
		return r.csrCeremony(ctx)
	case TypeImport:
		return r.importCeremony(ctx)
	case TypeCRL:
		return r.crlCeremony(ctx)
	}
	return fmt.Errorf("unknown ceremony type %q", r.pl.cfg.Type)
}

// preflight checks, before anything is created, that a key to generate
// does not exist yet and that the issuer key matches its certificate.
func (r *runner) preflight(ctx context.Context) error {
	if k := r.pl.cfg.Key; k != nil && k.Generate {
		exists, err := r.tokens[r.pl.key.Token].LabelExists(ctx, r.pl.key.Object)
		if err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("key %s: %w", r.pl.key, hsm.ErrLabelExists)
		}
	}
	if r.pl.issuerCert != nil && r.pl.cfg.Issuer != nil {
		s, err := r.issuerSigner(ctx)
		if err != nil {
			return err
		}
		if !publicKeysEqual(s.Public(), r.pl.issuerCert.PublicKey) {
			return fmt.Errorf("issuer key %s does not match the public key of %s", r.pl.issuer, r.pl.cfg.Issuer.Certificate)
		}
	}
	return nil
}

func (r *runner) createOutputs() error {
	o := r.pl.cfg.Outputs
	var err error
	switch {
	case o.Certificate != "":
		r.out, err = createOutput(o.Certificate, "CERTIFICATE")
	case o.CSR != "":
		r.out, err = createOutput(o.CSR, "CERTIFICATE REQUEST")
	case o.CRL != "":
		r.out, err = createOutput(o.CRL, "X509 CRL")
	}
	if err != nil {
		return err
	}
	if o.PublicKey != "" {
		r.pubOut, err = createOutput(o.PublicKey, "PUBLIC KEY")
	}
	return err
}

func (r *runner) issuerSigner(ctx context.Context) (*hsm.Signer, error) {
	return r.tokens[r.pl.issuer.Token].Signer(ctx, r.pl.issuer)
}

// subjectKey generates or finds the ceremony's own key pair.
func (r *runner) subjectKey(ctx context.Context) (*hsm.Signer, error) {
	tok := r.tokens[r.pl.key.Token]
	if r.pl.cfg.Key.Generate {
		s, uri, err := tok.GenerateKeyPair(ctx, r.pl.key.Object, r.pl.alg)
		if err != nil {
			return nil, err
		}
		r.result.KeyURI = uri
		if err := r.step(Entry{Step: "generate_key", KeyURI: uri.String(), Detail: string(r.pl.alg)}); err != nil {
			return nil, err
		}
		return s, r.checkProtected(ctx, tok, uri)
	}
	s, err := tok.Signer(ctx, r.pl.key)
	if err != nil {
		return nil, err
	}
	if r.pl.alg != "" && hsm.AlgorithmOf(s.Public()) != r.pl.alg {
		return nil, fmt.Errorf("key %s is %s, the config says %s", r.pl.key, hsm.AlgorithmOf(s.Public()), r.pl.alg)
	}
	r.result.KeyURI = s.URI()
	return s, r.step(Entry{Step: "use_key", KeyURI: s.URI().String(), Detail: string(hsm.AlgorithmOf(s.Public()))})
}

// checkProtected reads the new key's attributes back from the token.
func (r *runner) checkProtected(ctx context.Context, tok *hsm.Token, uri hsm.URI) error {
	attrs, err := tok.Attributes(ctx, uri)
	if err != nil {
		return err
	}
	if !attrs.Protected() {
		return fmt.Errorf("key %s is not protected as required (%+v): destroy it with the vendor tool", uri, attrs)
	}
	return r.step(Entry{Step: "check_attributes", KeyURI: uri.String(), Detail: "sensitive, always sensitive, not extractable, never extractable, private, token"})
}

func (r *runner) keyCeremony(ctx context.Context) error {
	if r.pl.alg.IsSymmetric() {
		tok := r.tokens[r.pl.key.Token]
		uri, err := tok.GenerateSecretKey(ctx, r.pl.key.Object)
		if err != nil {
			return err
		}
		r.result.KeyURI = uri
		if err := r.step(Entry{Step: "generate_key", KeyURI: uri.String(), Detail: string(r.pl.alg)}); err != nil {
			return err
		}
		return r.checkProtected(ctx, tok, uri)
	}
	s, err := r.subjectKey(ctx)
	if err != nil {
		return err
	}
	return r.writePublicKey(s.Public())
}

func (r *runner) writePublicKey(pub crypto.PublicKey) error {
	if r.pubOut == nil {
		return nil
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	fp, err := r.pubOut.write(der)
	if err != nil {
		return err
	}
	r.result.Outputs[r.pubOut.path] = fp
	return r.step(Entry{Step: "write_output", Outputs: map[string]string{r.pubOut.path: fp}})
}

func (r *runner) writeOutput(der []byte) error {
	fp, err := r.out.write(der)
	if err != nil {
		return err
	}
	r.result.Outputs[r.out.path] = fp
	return r.step(Entry{Step: "write_output", Outputs: map[string]string{r.out.path: fp}})
}

func (r *runner) certificateCeremony(ctx context.Context) error {
	serialToken := r.pl.key.Token
	if r.pl.cfg.Type != TypeRoot {
		serialToken = r.pl.issuer.Token
	}
	serial, err := ca.RandomSerial(r.tokens[serialToken].Random())
	if err != nil {
		return err
	}
	build := func(pub crypto.PublicKey) (*x509.Certificate, error) { return r.pl.certificateTemplate(serial, pub) }
	if r.pl.cfg.Key.Generate {
		if err := prelint(r.linter, build, r.pl.issuerCert, r.pl.alg); err != nil {
			return err
		}
		r.progress("prelint", "zlint: no error or warning with a throwaway subject key; generating the real key")
	}
	subject, err := r.subjectKey(ctx)
	if err != nil {
		return err
	}
	var signer crypto.Signer = subject
	if r.pl.cfg.Type != TypeRoot {
		if signer, err = r.issuerSigner(ctx); err != nil {
			return err
		}
	}
	der, err := signCertificate(r.linter, build, r.pl.issuerCert, subject.Public(), signer, r.progress)
	if err != nil {
		return err
	}
	if err := r.step(Entry{Step: "certificate", KeyURI: r.result.KeyURI.String(), Detail: "serial " + hexSerial(serial)}); err != nil {
		return err
	}
	if err := r.writeOutput(der); err != nil {
		return err
	}
	return r.writePublicKey(subject.Public())
}

func (r *runner) csrCeremony(ctx context.Context) error {
	s, err := r.subjectKey(ctx)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: r.pl.cfg.CSR.Subject.pkix()}, s)
	if err != nil {
		return fmt.Errorf("HSM signature of the CSR: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return err
	}
	if err := csr.CheckSignature(); err != nil {
		return fmt.Errorf("the CSR's signature does not verify: %w", err)
	}
	if err := r.step(Entry{Step: "hsm_sign", KeyURI: s.URI().String(), Detail: "CSR signed and verified"}); err != nil {
		return err
	}
	if err := r.writeOutput(der); err != nil {
		return err
	}
	return r.writePublicKey(s.Public())
}

func (r *runner) importCeremony(ctx context.Context) error {
	s, err := r.subjectKey(ctx)
	if err != nil {
		return err
	}
	cert := r.pl.importCert
	if !publicKeysEqual(s.Public(), cert.PublicKey) {
		return fmt.Errorf("the certificate in %s is not for key %s: its public key differs", r.pl.cfg.Import.Certificate, s.URI())
	}
	detail := "certificate matches the key; signature checked against " + r.pl.cfg.Import.IssuerCertificate
	if err := r.linter.Certificate(cert.Raw); err != nil {
		detail += "; zlint findings (external issuer's profile, recorded, not refused): " + err.Error()
	}
	if err := r.step(Entry{Step: "check_certificate", KeyURI: s.URI().String(), Detail: detail}); err != nil {
		return err
	}
	if r.pl.cfg.Import.StoreOnToken {
		if err := r.tokens[r.pl.key.Token].StoreCertificate(ctx, s.URI(), cert); err != nil {
			return err
		}
		if err := r.step(Entry{Step: "store_on_token", KeyURI: s.URI().String()}); err != nil {
			return err
		}
	}
	return r.writeOutput(cert.Raw)
}

func (r *runner) crlCeremony(ctx context.Context) error {
	is, err := r.issuerSigner(ctx)
	if err != nil {
		return err
	}
	r.result.KeyURI = is.URI()
	der, err := signCRL(r.linter, r.pl.crlTemplate(), r.pl.issuerCert, is, r.progress)
	if err != nil {
		return err
	}
	if err := r.step(Entry{Step: "crl", KeyURI: is.URI().String(), Detail: fmt.Sprintf("number %d, %d revoked", r.pl.cfg.CRL.Number, len(r.pl.revoked))}); err != nil {
		return err
	}
	return r.writeOutput(der)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
