package signing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	two := makePDF(a4("satu"), page{w: 300, h: 200, rotate: -90, text: "dua"})
	info, err := Inspect(two)
	if err != nil {
		t.Fatal(err)
	}
	want := []PageSize{{Width: 595, Height: 842}, {Width: 300, Height: 200, Rotate: 270}}
	if info.Pages != 2 || info.Size != len(two) || info.SHA256 != sha256.Sum256(two) || info.Version != "1.4" ||
		fmt.Sprint(info.PageSizes) != fmt.Sprint(want) || info.Signatures != 0 {
		t.Errorf("Inspect = %+v", info)
	}
	// qpdf's rewrite with object streams and a cross-reference stream.
	if info, err := Inspect(qpdf(t, two, "--object-streams=generate")); err != nil || info.Pages != 2 {
		t.Errorf("object streams: %+v, %v", info, err)
	}
	_, signed := signedSample(t)
	if info, err := Inspect(signed); err != nil || info.Signatures != 1 {
		t.Errorf("signed: %+v, %v", info, err)
	}
}

func TestInspectRefusals(t *testing.T) {
	one := makePDF(a4("satu"))
	xref := bytes.LastIndex(one, []byte("\nxref\n")) + 1
	var pngFile bytes.Buffer
	if err := png.Encode(&pngFile, newSpecimenImage()); err != nil {
		t.Fatal(err)
	}
	many := make([]page, MaxPages+1)
	for i := range many {
		many[i] = page{w: 100, h: 100}
	}
	for _, c := range []struct {
		name string
		pdf  []byte
		want error
	}{
		{"empty", nil, ErrNotPDF},
		{"PNG image", pngFile.Bytes(), ErrNotPDF},
		{"text", []byte("hello, this is not a PDF\n%%EOF\n"), ErrNotPDF},
		{"too large", append([]byte("%PDF-1.4\n"), make([]byte, MaxBytes)...), ErrTooLarge},
		{"truncated", one[:len(one)/2], ErrBroken},
		{"no EOF marker", append(append([]byte{}, one...), bytes.Repeat([]byte("x"), 2*eofWindow)...), ErrBroken},
		{"startxref out of range", bytes.Replace(one, []byte(fmt.Sprintf("startxref\n%d", xref)), []byte("startxref\n99999999"), 1), ErrBroken},
		{"header only", []byte("%PDF-1.7\n%%EOF\n"), ErrBroken},
		{"huge cross-reference subsection", append(append([]byte{}, one[:xref]...),
			fmt.Sprintf("xref\n0 1\n0000000000 65535 f \n900000000 1\n0000000010 00000 n \ntrailer\n<< /Size 7 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", xref)...), ErrBroken},
		{"cyclic page tree", bytes.Replace(one, []byte("/Kids [3 0 R]"), []byte("/Kids [2 0 R]"), 1), ErrBroken},
		{"no MediaBox", bytes.Replace(one, []byte("/MediaBox [0 0 595 842]"), []byte("/MediaBox [0 0 595 842 1]"), 1), ErrBroken},
		{"deep nesting", makePDF(page{w: 100, h: 100, extra: "/X " + strings.Repeat("[", maxOpeners) + strings.Repeat("]", maxOpeners)}), ErrBroken},
		{"too many pages", makePDF(many...), ErrTooManyPages},
		{"AES-256 with a user password", qpdf(t, one, "--encrypt", "user", "owner", "256", "--"), ErrEncrypted},
		{"AES-256 with an empty user password", qpdf(t, one, "--encrypt", "", "owner", "256", "--"), ErrEncrypted},
		{"AES-128 with an empty user password", qpdf(t, one, "--encrypt", "", "owner", "128", "--use-aes=y", "--"), ErrEncrypted},
		{"RC4-128 with an empty user password", qpdf(t, one, "--allow-weak-crypto", "--encrypt", "", "owner", "128", "--use-aes=n", "--"), ErrEncrypted},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Inspect(c.pdf)
			if !errors.Is(err, c.want) {
				t.Fatalf("Inspect: %v, want %v", err, c.want)
			}
			if MessageKey(err) == "" {
				t.Errorf("MessageKey(%v) is empty", err)
			}
		})
	}
}

func TestMessageKey(t *testing.T) {
	for _, mk := range messageKeys {
		if got := MessageKey(fmt.Errorf("context: %w", mk.err)); got != mk.key || !strings.HasPrefix(got, "signing.") {
			t.Errorf("MessageKey(%v) = %q, want %q", mk.err, got, mk.key)
		}
	}
	if MessageKey(nil) != "" || MessageKey(errors.New("other")) != "" {
		t.Error("MessageKey of nil or a foreign error is not empty")
	}
}

func TestRenderFirstPage(t *testing.T) {
	img, err := RenderFirstPage(context.Background(), makePDF(page{w: 842, h: 595, rotate: 90, text: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Height != PreviewSide || cfg.Width < 700 || cfg.Width > 710 {
		t.Errorf("preview %dx%d, %v; want portrait, %d high", cfg.Width, cfg.Height, err, PreviewSide)
	}
	if _, err := RenderPage(context.Background(), makePDF(a4("x")), 2, 100); err == nil {
		t.Error("RenderPage of page 2 of a 1-page PDF: no error")
	}
	if _, err := RenderFirstPage(context.Background(), []byte("not a PDF")); !errors.Is(err, ErrNotPDF) {
		t.Errorf("RenderFirstPage(not a PDF) = %v", err)
	}
}

func FuzzInspect(f *testing.F) {
	f.Add(makePDF(a4("satu")))
	f.Add(makePDF(a4("satu"), page{w: 300, h: 200, rotate: 90}))
	f.Add(qpdf(f, makePDF(a4("satu")), "--object-streams=generate"))
	f.Add([]byte("%PDF-1.7\n%%EOF\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Inspect(b)
		if err != nil {
			if MessageKey(err) == "" {
				t.Errorf("error without a message key: %v", err)
			}
			return
		}
		if info.Pages < 1 || info.Pages > MaxPages || len(info.PageSizes) != info.Pages {
			t.Errorf("accepted with %+v", info)
		}
	})
}
