// Package softhsmtestdata holds the SoftHSM2 configuration template and the
// example ceremony configurations used by the tests and by `appliance demo`.
//
// The files live beside this source file so that security officers can read
// them as examples; they are embedded so the binary carries them.
package softhsmtestdata

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"text/template"
)

//go:embed softhsm2.conf.tmpl
var confTemplate string

//go:embed ceremonies
var ceremonies embed.FS

// Ceremonies returns the example ceremony configurations (ceremonies/*.yaml).
// They are text/template files: {{.Module}} is the PKCS#11 module path.
func Ceremonies() fs.FS {
	sub, err := fs.Sub(ceremonies, "ceremonies")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// RenderConfig returns a softhsm2.conf that keeps tokens in tokenDir.
func RenderConfig(tokenDir string) ([]byte, error) {
	t, err := template.New("softhsm2.conf").Option("missingkey=error").Parse(confTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse softhsm2.conf template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ TokenDir string }{tokenDir}); err != nil {
		return nil, fmt.Errorf("render softhsm2.conf: %w", err)
	}
	return b.Bytes(), nil
}

// ModuleEnv names the environment variable that overrides the SoftHSM path.
const ModuleEnv = "APPLIANCE_SOFTHSM_MODULE"

// modulePaths are where Debian, Ubuntu, Fedora and source builds put SoftHSM2.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// ErrNoSoftHSM means SoftHSM2 is not installed.
var ErrNoSoftHSM = errors.New("SoftHSM2 not found: install it (apt-get install softhsm2, or `make deps`) or set " + ModuleEnv)

// ModulePath finds the SoftHSM2 PKCS#11 library.
func ModulePath() (string, error) {
	if p := os.Getenv(ModuleEnv); p != "" {
		return p, nil
	}
	for _, p := range modulePaths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (looked in %v)", ErrNoSoftHSM, modulePaths)
}
