package ceremony

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// readPEMOrDER reads one object of the PEM type want, or raw DER.
func readPEMOrDER(path, want string) ([]byte, error) {
	data, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != want {
			return nil, fmt.Errorf("%s holds a PEM %q block, want %q", path, block.Type, want)
		}
		return block.Bytes, nil
	}
	return data, nil
}

// maxInputSize bounds a certificate or CRL a ceremony reads.
const maxInputSize = 4 << 20

// readSmallFile reads a regular file of at most maxInputSize bytes.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxInputSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInputSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxInputSize)
	}
	return data, nil
}

func readCertificate(path string) (*x509.Certificate, error) {
	der, err := readPEMOrDER(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func readCRL(path string) (*x509.RevocationList, error) {
	der, err := readPEMOrDER(path, "X509 CRL")
	if err != nil {
		return nil, err
	}
	r, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// output is a file created with O_EXCL before the HSM is touched, filled at
// the end, and removed again if the ceremony fails before then.
type output struct {
	path    string
	pemType string
	f       *os.File
	written bool
}

func createOutput(path, pemType string) (*output, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create output %s: %w", path, err)
	}
	return &output{path: path, pemType: pemType, f: f}, nil
}

// isDER reports whether the output path asks for DER rather than PEM.
func isDER(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".der", ".cer", ".crl":
		return true
	}
	return false
}

// write stores der (as PEM unless the extension says DER), syncs, and
// returns the SHA-256 of the DER for the transcript.
func (o *output) write(der []byte) (string, error) {
	data := der
	if !isDER(o.path) {
		data = pem.EncodeToMemory(&pem.Block{Type: o.pemType, Bytes: der})
	}
	if _, err := o.f.Write(data); err != nil {
		return "", fmt.Errorf("write %s: %w", o.path, err)
	}
	if err := o.f.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", o.path, err)
	}
	if err := o.f.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", o.path, err)
	}
	o.written = true
	return fingerprint(der), nil
}

// abandon removes the output if nothing was written to it.
func (o *output) abandon() {
	if o == nil || o.written {
		return
	}
	o.f.Close()
	os.Remove(o.path)
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
