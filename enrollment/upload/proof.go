package upload

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/digitorus/pdf"
)

// MaxProofPages bounds the pages of a PDF payment proof: a receipt or a
// bank statement, not a book.
const MaxProofPages = 20

var (
	ErrNotProof     = errors.New("upload: the file is not a JPEG or PNG image or a PDF")
	ErrPDFEncrypted = errors.New("upload: the PDF is encrypted or password-protected")
	ErrPDFCorrupt   = errors.New("upload: the PDF is broken or has too many pages")
)

// CleanProof checks a payment proof: an image is checked and re-encoded as
// the photos are (JPEG); a PDF must parse, be unencrypted and have 1 to
// MaxProofPages pages, and is kept as uploaded. It returns the bytes to
// store and their content type.
func CleanProof(data []byte) ([]byte, string, error) {
	switch {
	case len(data) == 0:
		return nil, "", fmt.Errorf("%w (payment proof)", ErrEmpty)
	case len(data) > MaxBytes:
		return nil, "", fmt.Errorf("%w (payment proof: %d bytes, at most %d)", ErrTooLarge, len(data), MaxBytes)
	case bytes.HasPrefix(data, []byte("%PDF-")):
		if err := checkPDF(data); err != nil {
			return nil, "", err
		}
		return data, "application/pdf", nil
	}
	if _, ok := sniff(data); !ok {
		return nil, "", fmt.Errorf("%w (payment proof)", ErrNotProof)
	}
	out, err := Clean(PaymentProof, data)
	if err != nil {
		return nil, "", err
	}
	return out, "image/jpeg", nil
}

// checkPDF parses the PDF's cross-reference table, trailer and page tree.
// The parser can panic on hostile input; that is a broken PDF too.
func checkPDF(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w (parser stopped: %v)", ErrPDFCorrupt, r)
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if errors.Is(err, pdf.ErrInvalidPassword) || bytes.Contains(data, []byte("/Encrypt")) {
			return fmt.Errorf("%w", ErrPDFEncrypted)
		}
		return fmt.Errorf("%w (%v)", ErrPDFCorrupt, err)
	}
	if !r.Trailer().Key("Encrypt").IsNull() {
		return ErrPDFEncrypted
	}
	if n := r.NumPage(); n < 1 || n > MaxProofPages {
		return fmt.Errorf("%w (%d pages)", ErrPDFCorrupt, n)
	}
	return nil
}
