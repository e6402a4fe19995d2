package ceremony

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Type is a ceremony type.
type Type string

// The ceremony types.
const (
	TypeRoot        Type = "root"
	TypeSubordinate Type = "subordinate"
	TypeCSR         Type = "csr"
	TypeImport      Type = "import"
	TypeOCSPSigner  Type = "ocsp-signer"
	TypeKey         Type = "key"
	TypeCRL         Type = "crl"
	TypeTSA         Type = "tsa" // RFC 3161 time-stamping unit; see tsa.go
)

// Types lists the ceremony types in the order a PKI is usually built.
var Types = []Type{TypeKey, TypeRoot, TypeSubordinate, TypeCSR, TypeImport, TypeOCSPSigner, TypeTSA, TypeCRL}

// Config is one ceremony file. Which sections are required depends on Type;
// Validate checks that, and that no section is given that the type ignores.
type Config struct {
	Type        Type               `yaml:"type"`
	HSM         HSMConfig          `yaml:"hsm"`
	Key         *KeyConfig         `yaml:"key,omitempty"`
	Issuer      *IssuerConfig      `yaml:"issuer,omitempty"`
	Certificate *CertificateConfig `yaml:"certificate,omitempty"`
	CSR         *CSRConfig         `yaml:"csr,omitempty"`
	Import      *ImportConfig      `yaml:"import,omitempty"`
	CRL         *CRLConfig         `yaml:"crl,omitempty"`
	Outputs     Outputs            `yaml:"outputs"`
	Transcript  string             `yaml:"transcript"`

	// Filled by Load, not from YAML.
	path string
	hash string
}

// HSMConfig names the PKCS#11 module and the PIN source of every token the
// ceremony uses, keyed by token label: file:PATH, env:NAME or prompt.
type HSMConfig struct {
	Module string            `yaml:"module"`
	PINs   map[string]string `yaml:"pins"`
}

// KeyConfig is the ceremony's own key: the one generated, or the subject key.
type KeyConfig struct {
	URI       string `yaml:"uri"`       // pkcs11:token=...;object=LABEL
	Algorithm string `yaml:"algorithm"` // ecdsa-p256, ecdsa-p384, rsa-3072, aes-256
	Generate  bool   `yaml:"generate"`  // false: use the existing key
}

// IssuerConfig is the signing CA: its key in the HSM and its certificate.
type IssuerConfig struct {
	URI         string `yaml:"uri"`
	Certificate string `yaml:"certificate"`
}

// Name is an X.500 subject.
type Name struct {
	Country            string `yaml:"country"`
	Province           string `yaml:"province,omitempty"`
	Locality           string `yaml:"locality,omitempty"`
	Organization       string `yaml:"organization"`
	OrganizationalUnit string `yaml:"organizational_unit,omitempty"`
	CommonName         string `yaml:"common_name"`
}

// CertificateConfig describes a CA or OCSP responder certificate.
type CertificateConfig struct {
	Subject      Name     `yaml:"subject"`
	NotBefore    string   `yaml:"not_before,omitempty"` // RFC 3339; default: now
	ValidityDays int      `yaml:"validity_days"`
	PathLength   *int     `yaml:"path_length,omitempty"` // CA certificates only
	Policies     []string `yaml:"policies,omitempty"`    // policy OIDs
	CPSURI       string   `yaml:"cps_uri,omitempty"`
	CRLURL       string   `yaml:"crl_url,omitempty"`
	OCSPURL      string   `yaml:"ocsp_url,omitempty"`
	IssuerURL    string   `yaml:"issuer_url,omitempty"` // AIA caIssuers
	ExtKeyUsages []string `yaml:"ext_key_usages,omitempty"`
}

// CSRConfig is the subject of a certificate signing request.
type CSRConfig struct {
	Subject Name `yaml:"subject"`
}

// ImportConfig brings back a certificate an external CA signed.
type ImportConfig struct {
	Certificate       string `yaml:"certificate"`        // the signed certificate (PEM or DER)
	IssuerCertificate string `yaml:"issuer_certificate"` // the external issuer, to check the signature
	StoreOnToken      bool   `yaml:"store_on_token"`     // also store it as a certificate object beside the key
}

// CRLConfig describes a CRL.
type CRLConfig struct {
	Number         int64          `yaml:"number"`
	Previous       string         `yaml:"previous,omitempty"` // the last CRL, to check the number grows
	ThisUpdate     string         `yaml:"this_update,omitempty"`
	NextUpdateDays int            `yaml:"next_update_days"`
	Revoked        []RevokedEntry `yaml:"revoked,omitempty"`
}

// RevokedEntry is one revoked certificate in a CRL ceremony.
type RevokedEntry struct {
	Serial    string `yaml:"serial"` // hex
	RevokedAt string `yaml:"revoked_at"`
	Reason    string `yaml:"reason"` // RFC 5280 reason name, e.g. keyCompromise
}

// Outputs are the files a ceremony writes. Each must not exist yet.
type Outputs struct {
	Certificate string `yaml:"certificate,omitempty"`
	CSR         string `yaml:"csr,omitempty"`
	PublicKey   string `yaml:"public_key,omitempty"`
	CRL         string `yaml:"crl,omitempty"`
}

// Path is the file the config was loaded from.
func (c *Config) Path() string { return c.path }

// Hash is the hex SHA-256 of the config file's bytes, for the transcript.
func (c *Config) Hash() string { return c.hash }

// maxConfigSize bounds a ceremony file.
const maxConfigSize = 1 << 20

// ErrInvalidConfig is wrapped by every error from Load and Validate.
var ErrInvalidConfig = errors.New("invalid ceremony config")

// Load reads and strictly decodes a ceremony file: unknown keys, a second
// YAML document and non-mapping content are refused. Relative paths in the
// file are resolved against the file's directory. Load does not validate;
// call Validate.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read ceremony config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read ceremony config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidConfig, path, maxConfigSize)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", path, err)
	}
	cfg.path = abs
	cfg.resolvePaths(filepath.Dir(abs))
	return cfg, nil
}

// Parse strictly decodes a ceremony document.
func Parse(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file is empty", ErrInvalidConfig)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document: a ceremony file holds exactly one", ErrInvalidConfig)
	}
	sum := sha256.Sum256(data)
	cfg.hash = hex.EncodeToString(sum[:])
	return &cfg, nil
}

func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for tok, src := range c.HSM.PINs {
		if len(src) > 5 && src[:5] == "file:" {
			p := src[5:]
			abs(&p)
			c.HSM.PINs[tok] = "file:" + p
		}
	}
	if c.Issuer != nil {
		abs(&c.Issuer.Certificate)
	}
	if c.Import != nil {
		abs(&c.Import.Certificate)
		abs(&c.Import.IssuerCertificate)
	}
	if c.CRL != nil {
		abs(&c.CRL.Previous)
	}
	abs(&c.Outputs.Certificate)
	abs(&c.Outputs.CSR)
	abs(&c.Outputs.PublicKey)
	abs(&c.Outputs.CRL)
	abs(&c.Transcript)
}

// parseTime reads an RFC 3339 time, or returns now for "".
func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2026-01-02T00:00:00Z", s)
	}
	return t.UTC(), nil
}

// OutputPaths lists the files the ceremony writes.
func (c *Config) OutputPaths() []string {
	var out []string
	for _, p := range []string{c.Outputs.Certificate, c.Outputs.CSR, c.Outputs.CRL, c.Outputs.PublicKey} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
