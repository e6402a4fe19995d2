package signing

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/digitorus/pdf"
)

// Limits of Inspect (and so of Sign, which inspects its input first).
const (
	MaxBytes = 20 << 20 // 20 MB
	MaxPages = 500
	// maxTreeDepth bounds the page tree walk; real files nest a few levels.
	maxTreeDepth = 32
	// eofWindow is how far from the end "%%EOF" must be: the parser's own
	// search for it is quadratic in the distance.
	eofWindow = 1024
)

// PageSize is one page's MediaBox in PDF points (1/72 inch) and its /Rotate.
// Width and Height are those of the unrotated page; X and Y are the
// MediaBox's lower-left corner in user space (usually 0, 0).
type PageSize struct {
	X, Y, Width, Height float64
	Rotate              int // 0, 90, 180 or 270: viewers turn the page clockwise by it
}

// Info describes an uploaded PDF.
type Info struct {
	Size       int
	SHA256     [sha256.Size]byte
	Version    string // from the header, e.g. "1.7"
	Pages      int
	PageSizes  []PageSize // PageSizes[i] is page i+1
	Signatures int        // signature fields already in the AcroForm
}

// Inspect checks that b is a readable, unencrypted PDF of at most MaxBytes
// and MaxPages pages and describes it. Errors wrap ErrTooLarge, ErrNotPDF,
// ErrEncrypted, ErrBroken or ErrTooManyPages; a panic of the PDF parser is
// reported as ErrBroken.
func Inspect(b []byte) (Info, error) {
	r, err := open(b, MaxBytes)
	if err != nil {
		return Info{}, err
	}
	info := Info{Size: len(b), SHA256: sha256.Sum256(b), Version: r.PDFVersion}
	err = guard(func() error {
		sizes, err := pageSizes(r)
		if err != nil {
			return err
		}
		info.Pages, info.PageSizes = len(sizes), sizes
		info.Signatures = countSignatures(r)
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	return info, nil
}

// open runs the cheap checks and the parser on b.
func open(b []byte, limit int) (*pdf.Reader, error) {
	if len(b) > limit {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), limit)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		return nil, fmt.Errorf("%w: no %%PDF- header", ErrNotPDF)
	}
	if !bytes.Contains(b[max(0, len(b)-eofWindow):], []byte("%%EOF")) {
		return nil, fmt.Errorf("%w: no %%%%EOF at the end (truncated?)", ErrBroken)
	}
	if err := preflight(b); err != nil {
		return nil, err
	}
	if err := qpdfGate(b); err != nil {
		return nil, err
	}
	var r *pdf.Reader
	err := guard(func() error {
		var err error
		if r, err = pdf.NewReader(bytes.NewReader(b), int64(len(b))); err != nil {
			return err
		}
		return checkObjectStreams(r)
	})
	switch {
	case err != nil && bytes.Contains(b, []byte("/Encrypt")):
		return nil, fmt.Errorf("%w: %v", ErrEncrypted, err)
	case err != nil && errors.Is(err, ErrBroken):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrBroken, err)
	}
	// Keys, not Key: resolving the dictionary may already fail to decrypt.
	if slices.Contains(r.Trailer().Keys(), "Encrypt") {
		return nil, fmt.Errorf("%w: the trailer has /Encrypt", ErrEncrypted)
	}
	return r, nil
}

// guard runs f, turning a panic of the parser into ErrBroken.
func guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: parser: %v", ErrBroken, p)
		}
	}()
	return f()
}

// pageSizes walks the page tree depth-first with explicit bounds (the
// parser's own walk loops forever on a cyclic tree), inheriting MediaBox
// and Rotate as ISO 32000-1 §7.7.3.4 says.
func pageSizes(r *pdf.Reader) ([]PageSize, error) {
	root := r.Trailer().Key("Root").Key("Pages")
	if root.Kind() != pdf.Dict {
		return nil, fmt.Errorf("%w: no page tree", ErrBroken)
	}
	if n := root.Key("Count").Int64(); n > MaxPages {
		return nil, fmt.Errorf("%w: %d pages, at most %d", ErrTooManyPages, n, MaxPages)
	}
	var sizes []PageSize
	nodes := 0
	var walk func(v pdf.Value, box pdf.Value, rotate int64, depth int) error
	walk = func(v pdf.Value, box pdf.Value, rotate int64, depth int) error {
		if nodes++; depth > maxTreeDepth || nodes > 4*MaxPages {
			return fmt.Errorf("%w: page tree too deep or cyclic", ErrBroken)
		}
		if b := v.Key("MediaBox"); !b.IsNull() {
			box = b
		}
		if rt := v.Key("Rotate"); rt.Kind() == pdf.Integer {
			rotate = rt.Int64()
		}
		switch v.Key("Type").Name() {
		case "Pages":
			kids := v.Key("Kids")
			for i := 0; i < kids.Len(); i++ {
				if err := walk(kids.Index(i), box, rotate, depth+1); err != nil {
					return err
				}
			}
			return nil
		case "Page":
			if len(sizes) == MaxPages {
				return fmt.Errorf("%w: more than %d pages", ErrTooManyPages, MaxPages)
			}
			ps, err := pageSize(box, rotate)
			if err != nil {
				return fmt.Errorf("page %d: %w", len(sizes)+1, err)
			}
			sizes = append(sizes, ps)
			return nil
		}
		return fmt.Errorf("%w: page tree node of type %q", ErrBroken, v.Key("Type").Name())
	}
	if err := walk(root, pdf.Value{}, 0, 0); err != nil {
		return nil, err
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("%w: no pages", ErrBroken)
	}
	return sizes, nil
}

func pageSize(box pdf.Value, rotate int64) (PageSize, error) {
	if rotate%90 != 0 {
		return PageSize{}, fmt.Errorf("%w: /Rotate %d", ErrBroken, rotate)
	}
	rotate = (rotate%360 + 360) % 360
	if box.Kind() != pdf.Array || box.Len() != 4 {
		return PageSize{}, fmt.Errorf("%w: no valid /MediaBox", ErrBroken)
	}
	var c [4]float64
	for i := range c {
		k := box.Index(i).Kind()
		if k != pdf.Integer && k != pdf.Real {
			return PageSize{}, fmt.Errorf("%w: /MediaBox holds a %v", ErrBroken, k)
		}
		c[i] = box.Index(i).Float64()
	}
	w, h := math.Abs(c[2]-c[0]), math.Abs(c[3]-c[1])
	// ISO 32000-1 Annex C: at least 3 points, at most 14400 points a side.
	if !(w >= 3 && w <= 14400 && h >= 3 && h <= 14400) {
		return PageSize{}, fmt.Errorf("%w: page size %gx%g points", ErrBroken, w, h)
	}
	return PageSize{X: min(c[0], c[2]), Y: min(c[1], c[3]), Width: w, Height: h, Rotate: int(rotate)}, nil
}

// countSignatures counts the signature fields at the top of the AcroForm.
func countSignatures(r *pdf.Reader) int {
	fields := r.Trailer().Key("Root").Key("AcroForm").Key("Fields")
	n := 0
	for i := 0; i < fields.Len() && i < 10000; i++ {
		if fields.Index(i).Key("FT").Name() == "Sig" {
			n++
		}
	}
	return n
}
