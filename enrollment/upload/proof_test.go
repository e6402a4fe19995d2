package upload

import (
	"errors"
	"github.com/psre/appliance/internal/testpdf"
	"testing"
)

func minimalPDF(n int, extraTrailer string) []byte { return testpdf.Minimal(n, extraTrailer) }

func TestCleanProof(t *testing.T) {
	cases := []struct {
		name     string
		data     []byte
		wantType string
		wantErr  error
	}{
		{"pdf", minimalPDF(1, ""), "application/pdf", nil},
		{"jpeg", jpegOf(t, 800, 600), "image/jpeg", nil},
		{"png", pngOf(t, 400, 400), "image/jpeg", nil},
		{"empty", nil, "", ErrEmpty},
		{"too large", append(minimalPDF(1, ""), make([]byte, MaxBytes)...), "", ErrTooLarge},
		{"gif", gifOf(t), "", ErrNotProof},
		{"text", []byte("bukti transfer"), "", ErrNotProof},
		{"pdf header only", []byte("%PDF-1.7\n%%EOF\n"), "", ErrPDFCorrupt},
		{"encrypted pdf", minimalPDF(1, "/Encrypt << /Filter /Standard /V 1 /R 2 /O (x) /U (y) /P -4 >> "), "", ErrPDFEncrypted},
		{"too many pages", minimalPDF(MaxProofPages+1, ""), "", ErrPDFCorrupt},
		{"tiny image", jpegOf(t, 100, 100), "", ErrDimensions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, typ, err := CleanProof(c.data)
			if !errors.Is(err, c.wantErr) || typ != c.wantType {
				t.Fatalf("CleanProof: %q, %v; want %q, %v", typ, err, c.wantType, c.wantErr)
			}
			if err == nil && len(out) == 0 {
				t.Fatal("no bytes returned")
			}
			if err != nil && MessageKey(err) == "" {
				t.Fatalf("%v has no message key", err)
			}
		})
	}
}

func FuzzCleanProof(f *testing.F) {
	f.Add(minimalPDF(2, ""))
	f.Add([]byte("%PDF-1.4\n1 0 obj << >> endobj trailer << /Root 1 0 R >>"))
	f.Add(jpegOf(f, 300, 300))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, typ, err := CleanProof(data)
		if err == nil && (len(out) == 0 || (typ != "application/pdf" && typ != "image/jpeg")) {
			t.Fatalf("accepted with type %q and %d bytes", typ, len(out))
		}
		if err != nil && MessageKey(err) == "" {
			t.Fatalf("error without message key: %v", err)
		}
	})
}
