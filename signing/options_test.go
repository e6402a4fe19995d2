package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

func TestSignRefusals(t *testing.T) {
	p := newPKI(t)
	key := newKey(t)
	cert := p.subscriber(t, key.Public(), "Rina")
	other := p.subscriber(t, newKey(t).Public(), "Other")
	in := makePDF(a4("satu"))
	base := func(calls *int) Options {
		return Options{Signer: key, Certificate: cert, Chain: []*x509.Certificate{p.ca, p.root}, Timestamper: p.timestamper(calls)}
	}
	visible := func(page int, r [4]float64, spec []byte) *Appearance {
		return &Appearance{Page: page, Rect: r, Specimen: spec, Lines: []string{"Rina"}}
	}
	for _, c := range []struct {
		name   string
		pdf    []byte
		edit   func(*Options)
		want   error  // a sentinel, or nil to match text
		text   string // in the error, when want is nil
		signed bool   // whether the key was used before the refusal
	}{
		{"key is not the certificate's", in, func(o *Options) { o.Certificate = other }, nil, "public key", false},
		{"no timestamper", in, func(o *Options) { o.Timestamper = nil }, nil, "timestamper is required", false},
		{"certificate expired at signing time", in, func(o *Options) { o.SigningTime = cert.NotAfter.Add(time.Minute) }, nil, "not valid at", false},
		{"encrypted input", qpdf(t, in, "--encrypt", "", "o", "256", "--"), nil, ErrEncrypted, "", false},
		{"page out of range", in, func(o *Options) { o.Visible = visible(2, [4]float64{50, 50, 250, 130}, specimen(t)) }, ErrPlacement, "", false},
		{"box off the page", in, func(o *Options) { o.Visible = visible(1, [4]float64{500, 50, 700, 130}, specimen(t)) }, ErrPlacement, "", false},
		{"box too small", in, func(o *Options) { o.Visible = visible(1, [4]float64{50, 50, 60, 130}, specimen(t)) }, ErrPlacement, "", false},
		{"specimen not an image", in, func(o *Options) { o.Visible = visible(1, [4]float64{50, 50, 250, 130}, []byte("GIF89a")) }, ErrSpecimen, "", false},
		{"revoked per OCSP", in, func(o *Options) { o.OCSP = p.ocsp(t, cert, ocsp.Revoked) }, ErrRevoked, "", false},
		{"OCSP response for another certificate", in, func(o *Options) { o.OCSP = p.ocsp(t, other, ocsp.Good) }, nil, "OCSP response", false},
		{"TSA fails", in, func(o *Options) {
			o.Timestamper = TimestamperFunc(func(context.Context, []byte, crypto.Hash) ([]byte, error) { return nil, errors.New("down") })
		}, ErrTimestamp, "", true},
		{"TSA token over another digest", in, func(o *Options) {
			n := 0
			real := p.timestamper(&n)
			o.Timestamper = TimestamperFunc(func(ctx context.Context, d []byte, h crypto.Hash) ([]byte, error) {
				return real.Timestamp(ctx, make([]byte, len(d)), h)
			})
		}, ErrTimestamp, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			o := base(&calls)
			if c.edit != nil {
				c.edit(&o)
			}
			counting := &countingSigner{Signer: key}
			if o.Signer == crypto.Signer(key) {
				o.Signer = counting
			}
			out, err := Sign(context.Background(), c.pdf, o)
			switch {
			case out != nil || err == nil:
				t.Fatalf("Sign succeeded")
			case c.want != nil && !errors.Is(err, c.want):
				t.Errorf("err = %v, want %v", err, c.want)
			case c.want != nil && MessageKey(err) == "":
				t.Errorf("no message key for %v", err)
			case c.want == nil && !strings.Contains(err.Error(), c.text):
				t.Errorf("err = %v, want it to say %q", err, c.text)
			}
			if (counting.n > 0) != c.signed {
				t.Errorf("the key signed %d times before the refusal", counting.n)
			}
		})
	}
}

// countingSigner counts the signatures it makes.
type countingSigner struct {
	crypto.Signer
	n int
}

func (s *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	s.n++
	return s.Signer.Sign(r, d, o)
}

func TestCleanText(t *testing.T) {
	for _, c := range []struct{ in, pdf, line string }{
		{"Budi (Santoso)\\", "Budi (Santoso)\\", "Budi (Santoso)\\"},
		{"José (Budi)", "José ?Budi?", "José (Budi)"},
		{"a\nb\x00c", "a b c", "a b c"},
		{strings.Repeat("x", 300), strings.Repeat("x", maxText), strings.Repeat("x", maxText)},
		{"Ĩwan", "?wan", "Ĩwan"}, // U+0128: a code unit byte is '('
	} {
		if got := cleanText(c.in, true); got != c.pdf {
			t.Errorf("cleanText(%q, pdf) = %q, want %q", c.in, got, c.pdf)
		}
		if got := cleanText(c.in, false); got != c.line {
			t.Errorf("cleanText(%q) = %q, want %q", c.in, got, c.line)
		}
	}
}

func TestRectFromView(t *testing.T) {
	for _, c := range []struct {
		p    PageSize
		want [4]float64
	}{
		{PageSize{Width: 595, Height: 842}, [4]float64{10, 742, 110, 822}},
		{PageSize{X: 5, Y: 7, Width: 595, Height: 842}, [4]float64{15, 749, 115, 829}},
		{PageSize{Width: 842, Height: 595, Rotate: 90}, [4]float64{20, 10, 100, 110}},
		{PageSize{Width: 595, Height: 842, Rotate: 180}, [4]float64{485, 20, 585, 100}},
		{PageSize{Width: 842, Height: 595, Rotate: 270}, [4]float64{742, 485, 822, 585}},
	} {
		// A 100×80 box 10 points from the left and 20 from the top of the view.
		if got := c.p.RectFromView(10, 20, 100, 80); got != c.want {
			t.Errorf("%+v: RectFromView = %v, want %v", c.p, got, c.want)
		}
	}
}
