package ceremony

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/hsm"
)

// Validity limits, in days. They follow common CA practice: roots live up to
// 25 years, intermediates up to 15, delegated OCSP responder certificates
// (which carry ocsp-nocheck and so cannot be revoked) at most 90 days.
const (
	MaxRootDays        = 9132
	MaxSubordinateDays = 5479
	MaxOCSPSignerDays  = 90
	MaxCRLDays         = 365
	MaxPathLength      = 5
)

// extKeyUsages maps the names a config may use to Go's values.
var extKeyUsages = map[string]x509.ExtKeyUsage{
	"serverAuth":      x509.ExtKeyUsageServerAuth,
	"clientAuth":      x509.ExtKeyUsageClientAuth,
	"codeSigning":     x509.ExtKeyUsageCodeSigning,
	"emailProtection": x509.ExtKeyUsageEmailProtection,
	"timeStamping":    x509.ExtKeyUsageTimeStamping,
	"OCSPSigning":     x509.ExtKeyUsageOCSPSigning,
}

// plan is a validated config with everything parsed: running it needs no
// further checks of the input.
type plan struct {
	cfg        *Config
	now        time.Time
	key        hsm.URI
	alg        hsm.Algorithm // "" when using an existing key without a stated algorithm
	issuer     hsm.URI
	issuerCert *x509.Certificate
	notBefore  time.Time
	notAfter   time.Time
	policies   []asn1.ObjectIdentifier
	ekus       []x509.ExtKeyUsage
	unknownEKU []asn1.ObjectIdentifier
	revoked    []x509.RevocationListEntry
	tokens     []string // token labels the ceremony logs in to
	importCert *x509.Certificate
}

// problems collects every validation failure so the officer sees them all.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  - %s", ErrInvalidConfig, strings.Join(p, "\n  - "))
}

// Validate checks everything that can be checked without the HSM: fields
// per type, key types, validity limits, path lengths, policy OIDs, PIN
// sources, and that every output file is absent.
func (c *Config) Validate(now time.Time) error {
	_, err := c.plan(now)
	return err
}

func (c *Config) plan(now time.Time) (*plan, error) {
	var p problems
	pl := &plan{cfg: c, now: now.UTC().Truncate(time.Second)}
	need := map[string]bool{"hsm.module": true, "outputs": true, "transcript": true}
	switch c.Type {
	case TypeRoot:
		need["key"], need["certificate"] = true, true
	case TypeSubordinate, TypeOCSPSigner, TypeTSA:
		need["key"], need["issuer"], need["certificate"] = true, true, true
	case TypeCSR:
		need["key"], need["csr"] = true, true
	case TypeImport:
		need["key"], need["import"] = true, true
	case TypeKey:
		need["key"] = true
	case TypeCRL:
		need["issuer"], need["crl"] = true, true
	case "":
		p.addf("type is missing: use one of %v", Types)
		return nil, p.err()
	default:
		p.addf("unknown type %q: use one of %v", c.Type, Types)
		return nil, p.err()
	}
	sections := map[string]bool{"key": c.Key != nil, "issuer": c.Issuer != nil, "certificate": c.Certificate != nil,
		"csr": c.CSR != nil, "import": c.Import != nil, "crl": c.CRL != nil}
	for _, name := range []string{"key", "issuer", "certificate", "csr", "import", "crl"} {
		switch {
		case need[name] && !sections[name]:
			p.addf("%s: missing: a %s ceremony needs it", name, c.Type)
		case !need[name] && sections[name]:
			p.addf("%s: not used by a %s ceremony: remove it", name, c.Type)
		}
	}
	if len(p) > 0 {
		return nil, p.err()
	}
	c.validateHSM(&p)
	if c.Transcript == "" {
		p.addf("transcript: missing: give the JSON-lines file the steps are appended to")
	} else if st, err := os.Stat(filepath.Dir(c.Transcript)); err != nil || !st.IsDir() {
		p.addf("transcript: directory %s does not exist", filepath.Dir(c.Transcript))
	}
	if c.Key != nil {
		pl.validateKey(&p)
	}
	if c.Issuer != nil {
		pl.validateIssuer(&p)
	}
	if c.Certificate != nil {
		pl.validateCertificate(&p)
	}
	if c.CSR != nil {
		validateName(&p, "csr.subject", c.CSR.Subject)
	}
	if c.Import != nil {
		pl.validateImport(&p)
	}
	if c.CRL != nil {
		pl.validateCRL(&p)
	}
	pl.validateOutputs(&p)
	pl.validatePINs(&p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return pl, nil
}

func (c *Config) validateHSM(p *problems) {
	switch {
	case c.HSM.Module == "":
		p.addf("hsm.module: missing: give the full path of the PKCS#11 library")
	case !filepath.IsAbs(c.HSM.Module):
		p.addf("hsm.module: %q is not an absolute path", c.HSM.Module)
	default:
		if st, err := os.Stat(c.HSM.Module); err != nil || st.IsDir() {
			p.addf("hsm.module: %s is not a file", c.HSM.Module)
		}
	}
}

func (pl *plan) validateKey(p *problems) {
	k := pl.cfg.Key
	u, err := hsm.ParseURI(k.URI)
	if err != nil {
		p.addf("key.uri: %v", err)
		return
	}
	pl.key = u
	if u.Token == "" {
		p.addf("key.uri: %s names no token: add token=LABEL", u)
	} else {
		pl.tokens = append(pl.tokens, u.Token)
	}
	if u.Object == "" {
		p.addf("key.uri: %s has no object=LABEL: keys are found and created by label", u)
	}
	if k.Generate && len(u.ID) > 0 {
		p.addf("key.uri: id= cannot be chosen for a new key: the HSM's RNG draws it; remove id=")
	}
	if k.Algorithm != "" {
		alg, err := hsm.ParseAlgorithm(k.Algorithm)
		if err != nil {
			p.addf("key.algorithm: %v", err)
		}
		pl.alg = alg
	} else if k.Generate {
		p.addf("key.algorithm: missing: a generated key needs one of %v", hsm.Algorithms)
	}
	ct := pl.cfg.Type
	if pl.alg.IsSymmetric() && ct != TypeKey {
		p.addf("key.algorithm: %s is a secret-key algorithm; a %s ceremony needs ecdsa-p256, ecdsa-p384 or rsa-3072", pl.alg, ct)
	}
	switch {
	case ct == TypeKey && !k.Generate:
		p.addf("key.generate: a key ceremony generates a key: set generate: true")
	case (ct == TypeImport) && k.Generate:
		p.addf("key.generate: an import ceremony uses the key of the earlier csr ceremony: set generate: false")
	case ct == TypeRoot && pl.alg == hsm.ECDSAP256:
		p.addf("key.algorithm: a root CA key should be ecdsa-p384 or rsa-3072, not %s", pl.alg)
	}
}

func (pl *plan) validateIssuer(p *problems) {
	is := pl.cfg.Issuer
	u, err := hsm.ParseURI(is.URI)
	switch {
	case err != nil:
		p.addf("issuer.uri: %v", err)
	case u.Token == "" || !u.HasObject():
		p.addf("issuer.uri: %s must name a token and a key (token=...;object=...)", u)
	default:
		pl.issuer = u
		pl.tokens = append(pl.tokens, u.Token)
	}
	if is.Certificate == "" {
		p.addf("issuer.certificate: missing: give the issuer's certificate file")
		return
	}
	cert, err := readCertificate(is.Certificate)
	if err != nil {
		p.addf("issuer.certificate: %v", err)
		return
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		p.addf("issuer.certificate: %s is not a CA certificate", is.Certificate)
	}
	if pl.cfg.Type == TypeCRL && cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
		p.addf("issuer.certificate: %s lacks the cRLSign key usage", is.Certificate)
	}
	if pl.cfg.Type != TypeCRL && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		p.addf("issuer.certificate: %s lacks the keyCertSign key usage", is.Certificate)
	}
	if pl.now.After(cert.NotAfter) {
		p.addf("issuer.certificate: %s expired on %s", is.Certificate, cert.NotAfter.Format(time.RFC3339))
	}
	pl.issuerCert = cert
}

func (pl *plan) validateCertificate(p *problems) {
	c := pl.cfg.Certificate
	ct := pl.cfg.Type
	validateName(p, "certificate.subject", c.Subject)
	nb, err := parseTime(c.NotBefore, pl.now)
	if err != nil {
		p.addf("certificate.not_before: %v", err)
	}
	pl.notBefore = nb
	limit := map[Type]int{TypeRoot: MaxRootDays, TypeSubordinate: MaxSubordinateDays, TypeOCSPSigner: MaxOCSPSignerDays, TypeTSA: MaxTSADays}[ct]
	switch {
	case c.ValidityDays <= 0:
		p.addf("certificate.validity_days: missing or not positive")
	case c.ValidityDays > limit:
		p.addf("certificate.validity_days: %d is over the %s limit of %d days", c.ValidityDays, ct, limit)
	}
	pl.notAfter = nb.AddDate(0, 0, c.ValidityDays).Add(-time.Second)
	if pl.issuerCert != nil && pl.notAfter.After(pl.issuerCert.NotAfter) {
		p.addf("certificate.validity_days: the certificate would outlive its issuer (issuer expires %s)", pl.issuerCert.NotAfter.Format(time.RFC3339))
	}
	if pl.issuerCert != nil && nb.Before(pl.issuerCert.NotBefore) {
		p.addf("certificate.not_before: before the issuer's notBefore %s", pl.issuerCert.NotBefore.Format(time.RFC3339))
	}
	pl.validatePathLength(p)
	for i, s := range c.Policies {
		oid, err := ca.ParseOID(s)
		if err != nil {
			p.addf("certificate.policies[%d]: %v", i, err)
			continue
		}
		pl.policies = append(pl.policies, oid)
	}
	if c.CPSURI != "" && len(c.Policies) == 0 {
		p.addf("certificate.cps_uri: given without a policy OID to qualify")
	}
	urls := map[string]string{"cps_uri": c.CPSURI, "crl_url": c.CRLURL, "ocsp_url": c.OCSPURL, "issuer_url": c.IssuerURL}
	for _, name := range []string{"cps_uri", "crl_url", "ocsp_url", "issuer_url"} {
		if v := urls[name]; v != "" {
			if err := checkURL(v); err != nil {
				p.addf("certificate.%s: %v", name, err)
			}
		}
	}
	switch ct {
	case TypeRoot:
		for _, name := range []string{"crl_url", "ocsp_url", "issuer_url"} {
			if urls[name] != "" {
				p.addf("certificate.%s: a root has no issuer to point at: remove it", name)
			}
		}
		if len(c.Policies) > 0 || len(c.ExtKeyUsages) > 0 {
			p.addf("certificate: a root certificate carries no policies or extended key usages: put them on the subordinate")
		}
	case TypeSubordinate:
		if c.CRLURL == "" {
			p.addf("certificate.crl_url: missing: a subordinate CA certificate needs the issuer's CRL distribution point")
		}
		if c.IssuerURL == "" {
			p.addf("certificate.issuer_url: missing: a subordinate CA certificate needs the AIA caIssuers URL of its issuer")
		}
		if len(c.Policies) == 0 {
			p.addf("certificate.policies: missing: a subordinate CA certificate states the policies it issues under")
		}
	case TypeOCSPSigner:
		if len(c.Policies) > 0 || c.CRLURL != "" || c.OCSPURL != "" || len(c.ExtKeyUsages) > 0 {
			p.addf("certificate: an OCSP responder certificate has a fixed profile (OCSPSigning, ocsp-nocheck): remove policies, URLs and ext_key_usages")
		}
	case TypeTSA:
		pl.validateTSACertificate(p) // tsa.go
	}
	for i, name := range c.ExtKeyUsages {
		if eku, ok := extKeyUsages[name]; ok {
			pl.ekus = append(pl.ekus, eku)
		} else if name == "documentSigning" {
			pl.unknownEKU = append(pl.unknownEKU, ca.OIDDocumentSigning)
		} else {
			p.addf("certificate.ext_key_usages[%d]: unknown %q: use serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning or documentSigning", i, name)
		}
	}
	if ct == TypeOCSPSigner {
		pl.ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	}
}

func (pl *plan) validatePathLength(p *problems) {
	c, ct := pl.cfg.Certificate, pl.cfg.Type
	switch ct {
	case TypeTSA:
		return // tsa.go refuses path_length
	case TypeOCSPSigner:
		if c.PathLength != nil {
			p.addf("certificate.path_length: an OCSP responder certificate is not a CA: remove path_length")
		}
		return
	case TypeRoot:
		if c.PathLength != nil {
			p.addf("certificate.path_length: a root carries no path length constraint (RFC 5280 does not apply it to the trust anchor; CA/B Forum BR 7.1.2.1): remove it and constrain the subordinates")
		}
		return
	}
	if c.PathLength == nil {
		p.addf("certificate.path_length: missing: state how many CA levels may follow (0 for a CA that issues only end-entity certificates)")
		return
	}
	n := *c.PathLength
	switch {
	case n < 0 || n > MaxPathLength:
		p.addf("certificate.path_length: %d is outside 0..%d", n, MaxPathLength)
	case ct == TypeSubordinate && pl.issuerCert != nil && pl.issuerCert.MaxPathLen >= 0 && !pl.issuerCert.MaxPathLenZero && n >= pl.issuerCert.MaxPathLen:
		p.addf("certificate.path_length: %d must be less than the issuer's path length %d", n, pl.issuerCert.MaxPathLen)
	case ct == TypeSubordinate && pl.issuerCert != nil && pl.issuerCert.MaxPathLenZero:
		p.addf("certificate.path_length: the issuer has path length 0 and cannot sign a CA")
	}
}

func (pl *plan) validateImport(p *problems) {
	im := pl.cfg.Import
	if im.Certificate == "" {
		p.addf("import.certificate: missing: give the certificate the external CA returned")
	} else if cert, err := readCertificate(im.Certificate); err != nil {
		p.addf("import.certificate: %v", err)
	} else {
		pl.importCert = cert
	}
	if im.IssuerCertificate == "" {
		p.addf("import.issuer_certificate: missing: give the external issuer's certificate so the signature can be checked")
		return
	}
	issuer, err := readCertificate(im.IssuerCertificate)
	if err != nil {
		p.addf("import.issuer_certificate: %v", err)
		return
	}
	if pl.importCert != nil {
		if err := pl.importCert.CheckSignatureFrom(issuer); err != nil {
			p.addf("import.certificate: not signed by %s: %v", im.IssuerCertificate, err)
		}
	}
}

func (pl *plan) validateCRL(p *problems) {
	c := pl.cfg.CRL
	if c.Number < 1 {
		p.addf("crl.number: missing or not positive")
	}
	tu, err := parseTime(c.ThisUpdate, pl.now)
	if err != nil {
		p.addf("crl.this_update: %v", err)
	}
	if c.Previous == "" && c.Number > 1 {
		p.addf("crl.previous: missing: CRL number %d follows another; give that CRL so the number and time can be checked to grow", c.Number)
	}
	if c.Previous != "" {
		prev, err := readCRL(c.Previous)
		switch {
		case err != nil:
			p.addf("crl.previous: %v", err)
		case pl.issuerCert != nil && prev.CheckSignatureFrom(pl.issuerCert) != nil:
			p.addf("crl.previous: %s was not signed by the issuer %s: give that CA's last CRL", c.Previous, pl.cfg.Issuer.Certificate)
		case prev.Number == nil || prev.Number.Cmp(big.NewInt(c.Number)) >= 0:
			p.addf("crl.number: %d must be greater than the previous CRL's number %v", c.Number, prev.Number)
		case tu.Before(prev.ThisUpdate):
			p.addf("crl.this_update: %s must not be earlier than the previous CRL's %s", tu.Format(time.RFC3339), prev.ThisUpdate.UTC().Format(time.RFC3339))
		}
	}
	pl.notBefore = tu
	if c.NextUpdateDays <= 0 || c.NextUpdateDays > MaxCRLDays {
		p.addf("crl.next_update_days: %d is outside 1..%d", c.NextUpdateDays, MaxCRLDays)
	}
	pl.notAfter = tu.AddDate(0, 0, c.NextUpdateDays)
	seen := map[string]bool{}
	for i, r := range c.Revoked {
		serial, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(r.Serial), "0x"), 16)
		if !ok || serial.Sign() <= 0 {
			p.addf("crl.revoked[%d].serial: %q is not a positive hex number", i, r.Serial)
			continue
		}
		if seen[serial.String()] {
			p.addf("crl.revoked[%d].serial: %s listed twice", i, r.Serial)
		}
		seen[serial.String()] = true
		at, err := parseTime(r.RevokedAt, time.Time{})
		if err != nil || at.IsZero() {
			p.addf("crl.revoked[%d].revoked_at: missing or not RFC 3339", i)
		} else if at.After(tu) {
			p.addf("crl.revoked[%d].revoked_at: after this_update", i)
		}
		code, ok := ca.Reasons[r.Reason]
		if !ok {
			p.addf("crl.revoked[%d].reason: %q is not an RFC 5280 reason (%s)", i, r.Reason, strings.Join(reasonNames(), ", "))
		}
		pl.revoked = append(pl.revoked, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: at, ReasonCode: code})
	}
}

func reasonNames() []string {
	var names []string
	for n := range ca.Reasons {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (pl *plan) validateOutputs(p *problems) {
	o := pl.cfg.Outputs
	want := map[Type]string{TypeRoot: "certificate", TypeSubordinate: "certificate", TypeOCSPSigner: "certificate", TypeTSA: "certificate",
		TypeImport: "certificate", TypeCSR: "csr", TypeCRL: "crl"}[pl.cfg.Type]
	given := map[string]string{"certificate": o.Certificate, "csr": o.CSR, "crl": o.CRL, "public_key": o.PublicKey}
	seen := map[string]bool{}
	for _, name := range []string{"certificate", "csr", "crl", "public_key"} {
		path := given[name]
		switch {
		case name == want && path == "":
			p.addf("outputs.%s: missing: a %s ceremony writes one", name, pl.cfg.Type)
		case name != want && name != "public_key" && path != "":
			p.addf("outputs.%s: a %s ceremony does not write one: remove it", name, pl.cfg.Type)
		case name == "public_key" && path != "" && pl.alg.IsSymmetric():
			p.addf("outputs.public_key: an AES key has no public half")
		}
		if path == "" {
			continue
		}
		checkNewFile(p, "outputs."+name, path)
		if path == pl.cfg.Transcript {
			p.addf("outputs.%s: the same file as the transcript", name)
		}
		if seen[path] {
			p.addf("outputs.%s: %s is also another output", name, path)
		}
		seen[path] = true
	}
}

// checkNewFile refuses an output that exists or whose directory does not.
func checkNewFile(p *problems, field, path string) {
	if _, err := os.Lstat(path); err == nil {
		p.addf("%s: %s already exists: a ceremony never overwrites; move it away or choose another name", field, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		p.addf("%s: %v", field, err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		p.addf("%s: directory %s does not exist", field, filepath.Dir(path))
	}
}

func (pl *plan) validatePINs(p *problems) {
	used := map[string]bool{}
	for _, t := range pl.tokens {
		used[t] = true
		if _, ok := pl.cfg.HSM.PINs[t]; !ok {
			p.addf("hsm.pins: no PIN source for token %q: add `%s: file:/path/to/pin` (or env:NAME, or prompt)", t, t)
		}
	}
	for t, src := range pl.cfg.HSM.PINs {
		if !used[t] {
			p.addf("hsm.pins: token %q is not used by this ceremony: remove it", t)
		}
		if !(strings.HasPrefix(src, "file:") && len(src) > 5) && !(strings.HasPrefix(src, "env:") && len(src) > 4) && src != "prompt" {
			p.addf("hsm.pins.%s: the value is not a PIN source: use file:/path, env:NAME or prompt (never the PIN itself; the value is not repeated here in case it is one)", t)
		}
	}
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

func validateName(p *problems, field string, n Name) {
	if !countryRE.MatchString(n.Country) {
		p.addf("%s.country: %q is not an ISO 3166 two-letter code such as ID", field, n.Country)
	}
	if strings.TrimSpace(n.Organization) == "" {
		p.addf("%s.organization: missing", field)
	}
	if strings.TrimSpace(n.CommonName) == "" {
		p.addf("%s.common_name: missing", field)
	}
	for name, v := range map[string]string{"common_name": n.CommonName, "organization": n.Organization,
		"organizational_unit": n.OrganizationalUnit, "province": n.Province, "locality": n.Locality} {
		if len(v) > 64 {
			p.addf("%s.%s: longer than 64 characters", field, name)
		}
	}
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

// hexSerial formats a serial for messages and transcripts.
func hexSerial(n *big.Int) string { return hex.EncodeToString(n.Bytes()) }
