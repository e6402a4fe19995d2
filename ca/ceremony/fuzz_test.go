package ceremony_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca/ceremony"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
)

// fuzzFill replaces the template fields of the example and test configs.
var fuzzFill = strings.NewReplacer("{{.Module}}", "/nonexistent/libsofthsm2.so", "{{.Pins}}", "/nonexistent/pins", "{{.PKI}}", "/nonexistent/pki")

// readsDevice reports whether Validate would read a file under /dev, /proc
// or /sys (such as /dev/zero, which never ends): Validate reads the
// certificates and CRLs a config names.
func readsDevice(cfg *ceremony.Config) bool {
	var paths []string
	if cfg.Issuer != nil {
		paths = append(paths, cfg.Issuer.Certificate)
	}
	if cfg.Import != nil {
		paths = append(paths, cfg.Import.Certificate, cfg.Import.IssuerCertificate)
	}
	if cfg.CRL != nil {
		paths = append(paths, cfg.CRL.Previous)
	}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return true
		}
		for _, dir := range []string{"/dev", "/proc", "/sys"} {
			if abs == dir || strings.HasPrefix(abs, dir+"/") {
				return true
			}
		}
	}
	return false
}

// FuzzParse checks that Parse never panics, that its errors wrap
// ErrInvalidConfig, that a parsed config carries the hash of its bytes, and
// that Validate on whatever Parse accepts neither panics nor returns an
// error that is not ErrInvalidConfig.
func FuzzParse(f *testing.F) {
	examples := softhsmtestdata.Ceremonies()
	err := fs.WalkDir(examples, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(examples, p)
		if err == nil {
			f.Add([]byte(fuzzFill.Replace(string(b))))
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{rootYAML, subYAML, ocspYAML, crlYAML, keyYAML, csrYAML, importYAML} {
		f.Add([]byte(fuzzFill.Replace(s)))
	}
	for _, s := range []string{"", "---\n", "type: root\n---\ntype: key\n", "{}", "[]", "type: [root]\n", "hsm: {pins: {a: '1234'}}\n",
		"crl: {number: 9223372036854775807, revoked: [{serial: '-0x1'}]}\ntype: crl\n", "certificate: {path_length: -9223372036854775808}\ntype: subordinate\n",
		"&a [*a]\n", "key: {uri: 'pkcs11:token=%00;id=%ff'}\ntype: key\n"} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ceremony.Parse(data)
		if err != nil {
			if cfg != nil {
				t.Errorf("Parse returned a config and an error")
			}
			if !errors.Is(err, ceremony.ErrInvalidConfig) {
				t.Errorf("Parse error does not wrap ErrInvalidConfig: %v", err)
			}
			return
		}
		if cfg.Hash() != sha256hex(data) {
			t.Errorf("Hash %s is not the SHA-256 of the input", cfg.Hash())
		}
		if readsDevice(cfg) {
			return
		}
		if err := cfg.Validate(now); err != nil && !errors.Is(err, ceremony.ErrInvalidConfig) {
			t.Errorf("Validate error does not wrap ErrInvalidConfig: %v", err)
		}
	})
}
