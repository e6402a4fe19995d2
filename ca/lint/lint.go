// Package lint checks certificates and CRLs with zlint before and after the
// HSM signs them. Any error or warning refuses the object; the findings are
// returned as a typed error naming each lint.
//
// A short list of lints is deliberately not applied (see Skipped); each
// entry says why. Everything else zlint knows runs.
package lint

import (
	"fmt"
	"sort"
	"strings"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	"github.com/zmap/zlint/v3/util"
)

// Skipped are the lints this product does not apply, with the reason.
var Skipped = map[string]string{
	// The lint tries to verify each certificate's signature with the public
	// keys of eMudhra intermediates whose private keys were compromised
	// (Mozilla bug). Our certificates are signed only by our own HSM keys,
	// and every signature is checked against our CA certificate's key
	// before a certificate is stored, so the lint cannot apply; it costs
	// two P-384 signature verifications per ECDSA certificate, which was
	// 40% of the CPU of an issuance (see README, Benchmarks).
	"e_cert_issued_by_compromised_emudhra_ca": "cannot apply: our certificates are signed by our own HSM keys, checked against our CA certificate; costs two P-384 verifications per certificate",
}

// Finding is one lint that reported a problem.
type Finding struct {
	Lint    string
	Status  lint.LintStatus
	Details string
}

// Error lists the findings that refused an object.
type Error struct {
	What     string
	Findings []Finding
}

func (e *Error) Error() string {
	parts := make([]string, 0, len(e.Findings))
	for _, f := range e.Findings {
		s := fmt.Sprintf("%s (%s)", f.Lint, f.Status)
		if f.Details != "" {
			s += ": " + f.Details
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("zlint refused the %s: %s", e.What, strings.Join(parts, "; "))
}

// Replaced are zlint lints this package runs in its own, equivalent but
// cheaper form, with the reason.
var Replaced = map[string]string{
	smallKeyLint: "same check (0 < d <= 2^16 or its negation), with a table of X(d*G) for every d <= 2^16 built once per curve and process: one look-up per certificate instead of zlint's ~16 point additions (it was 70% of linting, and still ~20% with a smaller table)",
}

// SkippedSourcesForTLS are the lint sources not applied to the tls profile,
// with the reason. That profile certifies the appliance's own listeners
// (127.0.0.1, localhost, the console's host name) under the private admin
// CA, which only the appliance's officers trust: the CA/B Forum's Baseline
// Requirements govern publicly trusted TLS and cannot apply (their lints
// demand public TLDs, no internal names in AIA, CA/B Forum policy OIDs).
// RFC 5280 and every other source still run.
var SkippedSourcesForTLS = map[lint.LintSource]string{
	lint.CABFBaselineRequirements: "private TLS for the appliance's own listeners; not publicly trusted, so the CA/B Forum TLS BRs do not govern it",
}

// Linter runs zlint with Skipped removed.
type Linter struct {
	// privateTLS also leaves out SkippedSourcesForTLS.
	privateTLS lint.Registry
	registry   lint.Registry
	// certs and privateTLSCerts hold the certificate lints of registry and
	// privateTLS, listed once: zlint's own entry point sorts every lint
	// name on every call, a tenth of the cost of linting a certificate.
	certs, privateTLSCerts certSet
	// caCRLs is the registry for CRLs that cover only CA certificates
	// (a root's CRL), whose nextUpdate may be 12 months away, not 10 days.
	caCRLs lint.Registry
}

// New builds the lint registries.
func New() (*Linter, error) {
	reg, err := registry(nil)
	if err != nil {
		return nil, err
	}
	caCRLs, err := registry(nil)
	if err != nil {
		return nil, err
	}
	cfg, err := lint.NewConfigFromString("[e_crl_next_update_invalid]\nSubscriberCRL = false\n")
	if err != nil {
		return nil, fmt.Errorf("configure zlint: %w", err)
	}
	caCRLs.SetConfiguration(cfg)
	var sources []lint.LintSource
	for src := range SkippedSourcesForTLS {
		sources = append(sources, src)
	}
	privateTLS, err := registry(sources)
	if err != nil {
		return nil, err
	}
	keys := sharedSmallKeyTables
	return &Linter{registry: reg, caCRLs: caCRLs, privateTLS: privateTLS,
		certs: newCertSet(reg, keys), privateTLSCerts: newCertSet(privateTLS, keys)}, nil
}

// registry returns a new registry of every lint but Skipped and the given
// sources. It names the lints to include, because zlint's Filter hands back
// the shared global registry itself when asked to exclude nothing, and
// configuring that would change every other registry in the process.
func registry(excludeSources []lint.LintSource) (lint.Registry, error) {
	var include []string
	for _, n := range lint.GlobalRegistry().Names() {
		_, skip := Skipped[n]
		_, replaced := Replaced[n]
		if !skip && !replaced {
			include = append(include, n)
		}
	}
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeNames: include, ExcludeSources: excludeSources})
	if err != nil {
		return nil, fmt.Errorf("build zlint registry: %w", err)
	}
	if reg == lint.GlobalRegistry() {
		return nil, fmt.Errorf("build zlint registry: got the shared global registry")
	}
	return reg, nil
}

// Certificate lints a DER certificate and returns an *Error for any error,
// warning or fatal finding.
func (l *Linter) Certificate(der []byte) error {
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("zlint cannot parse the certificate: %w", err)
	}
	return l.certs.check(c)
}

// PrivateTLSCertificate lints a certificate of the tls profile: like
// Certificate, without SkippedSourcesForTLS.
func (l *Linter) PrivateTLSCertificate(der []byte) error {
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("zlint cannot parse the certificate: %w", err)
	}
	return l.privateTLSCerts.check(c)
}

// RevocationList lints a DER CRL like Certificate. coversCAs says the CRL
// lists only CA certificates (as a root's CRL does).
func (l *Linter) RevocationList(der []byte, coversCAs bool) error {
	r, err := zx509.ParseRevocationList(der)
	if err != nil {
		return fmt.Errorf("zlint cannot parse the CRL: %w", err)
	}
	reg := l.registry
	if coversCAs {
		reg = l.caCRLs
	}
	return check("CRL", zlint.LintRevocationListEx(r, reg))
}

func check(what string, rs *zlint.ResultSet) error {
	var found []Finding
	for name, r := range rs.Results {
		switch r.Status {
		case lint.Warn, lint.Error, lint.Fatal:
			found = append(found, Finding{Lint: name, Status: r.Status, Details: r.Details})
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Lint < found[j].Lint })
	return &Error{What: what, Findings: found}
}

// certSet is a registry's certificate lints with its configuration.
//
// zlint's CertificateLint.Execute first applies a framework filter: a lint
// of the CA/B Forum TLS, S/MIME or code-signing Baseline Requirements
// returns NA, before anything else runs, on a certificate that is not
// serverAuth, email protection or code signing (unless the lint overrides
// the filter). check evaluates those three conditions once per
// certificate, with the same zlint functions, and calls only the lints
// the filter lets through: the results are the same, without ~200 calls
// that each allocate an NA result (for the individual and officer
// profiles, half the lints; a fifth of the time spent linting).
type certSet struct {
	lints []*lint.CertificateLint // all of them
	// by the framework filter that applies to them
	always, serverAuth, emailProtection, codeSigning []*lint.CertificateLint
	cfg                                              lint.Configuration
	smallKeys                                        *smallKeyTables
}

func newCertSet(reg lint.Registry, keys *smallKeyTables) certSet {
	s := certSet{lints: reg.CertificateLints().Lints(), cfg: reg.GetConfiguration(), smallKeys: keys}
	for _, l := range s.lints {
		switch {
		case l.OverrideFrameworkFilter:
			s.always = append(s.always, l)
		case l.Source == lint.CABFBaselineRequirements:
			s.serverAuth = append(s.serverAuth, l)
		case l.Source == lint.CABFSMIMEBaselineRequirements:
			s.emailProtection = append(s.emailProtection, l)
		case l.Source == lint.CABFCSBaselineRequirements:
			s.codeSigning = append(s.codeSigning, l)
		default:
			s.always = append(s.always, l)
		}
	}
	return s
}

// execute is zlint's CertificateLint.Execute after its framework filter
// (which check applies once per certificate): configure the lint,
// CheckApplies, CheckEffective, Execute, a panic as a fatal result. It
// returns the status and details instead of a new *LintResult, so the
// lints that do not apply (most of them) allocate nothing.
func execute(l *lint.CertificateLint, c *zx509.Certificate, cfg lint.Configuration) (status lint.LintStatus, details string) {
	defer func() {
		if err := recover(); err != nil {
			status, details = lint.Fatal, fmt.Sprintf("'%s' panicked. Error: %v", l.Name, err)
		}
	}()
	li := l.Lint()
	if err := cfg.MaybeConfigure(li, l.Name); err != nil {
		return lint.Fatal, err.Error()
	}
	if !li.CheckApplies(c) {
		return lint.NA, ""
	}
	if !l.CheckEffective(c) {
		return lint.NE, ""
	}
	r := li.Execute(c)
	if r == nil {
		return lint.Fatal, "the lint returned no result"
	}
	return r.Status, r.Details
}

// applicable returns the lints zlint's framework filter lets through for
// c, evaluating its three conditions once, with zlint's own functions.
func (s certSet) applicable(c *zx509.Certificate) [][]*lint.CertificateLint {
	out := [][]*lint.CertificateLint{s.always}
	if util.IsServerAuthCert(c) {
		out = append(out, s.serverAuth)
	}
	if util.IsEmailProtectionCert(c) {
		out = append(out, s.emailProtection)
	}
	if util.IsCodeSigning(c.PolicyIdentifiers) {
		out = append(out, s.codeSigning)
	}
	return out
}

// check runs every lint as zlint.LintCertificateEx does and reports the
// errors, warnings and fatal results.
func (s certSet) check(c *zx509.Certificate) error {
	var found []Finding
	for _, lints := range s.applicable(c) {
		for _, l := range lints {
			switch st, details := execute(l, c, s.cfg); st {
			case lint.Warn, lint.Error, lint.Fatal:
				found = append(found, Finding{Lint: l.Name, Status: st, Details: details})
			}
		}
	}
	if f := s.smallKeys.check(c); f != nil {
		found = append(found, *f)
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Lint < found[j].Lint })
	return &Error{What: "certificate", Findings: found}
}
