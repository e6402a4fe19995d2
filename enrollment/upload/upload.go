// Package upload checks and cleans the images an applicant uploads at
// registration: the KTP photo, the webcam selfie and the drawn signature
// specimen. Clean sniffs the format from the magic bytes, refuses absurd
// dimensions from the header alone (before any pixel is allocated), decodes
// the image and re-encodes it, so that EXIF, PNG text chunks and anything
// appended after the image never reach the store.
//
// Errors wrap one of the sentinels below; MessageKey maps them to keys of the
// portal's message catalogs.
package upload

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
)

// Kind of image: what it is for decides the accepted formats and sizes.
type Kind int

const (
	KTPPhoto Kind = iota
	Selfie
	Specimen
	PaymentProof // a photo or scan of a transfer receipt (see CleanProof)
)

// MaxBytes is the largest upload accepted.
const MaxBytes = 5 << 20 // 5 MB

// Dimension limits, applied to the header before decoding. 16 MP bounds
// what one decode allocates (64 MB as RGBA, 128 MB for 16-bit PNG); a KTP
// photo needs about 2 MP and phones save 12 MP by default. Callers should
// still bound how many Clean calls run at once.
const (
	MaxSide   = 8000
	MaxPixels = 16_000_000
)

// JPEGQuality is the quality of re-encoded KTP photos and selfies.
const JPEGQuality = 90

var (
	ErrEmpty      = errors.New("upload: the file is empty")
	ErrTooLarge   = errors.New("upload: the file is too large")
	ErrNotImage   = errors.New("upload: the file is not a JPEG or PNG image")
	ErrDimensions = errors.New("upload: the image dimensions are out of range")
	ErrCorrupt    = errors.New("upload: the image is truncated or corrupt")
)

var messageKeys = []struct {
	err error
	key string
}{
	{ErrEmpty, "upload.empty"},
	{ErrTooLarge, "upload.too_large"},
	{ErrNotImage, "upload.not_image"},
	{ErrDimensions, "upload.dimensions"},
	{ErrCorrupt, "upload.corrupt"},
	{ErrNotProof, "upload.not_proof"},
	{ErrPDFEncrypted, "upload.pdf_encrypted"},
	{ErrPDFCorrupt, "upload.pdf_corrupt"},
}

// MessageKey returns the message-catalog key of the sentinel that err wraps,
// for example "upload.too_large", or "" if err is nil or wraps none of them.
func MessageKey(err error) string {
	for _, mk := range messageKeys {
		if err != nil && errors.Is(err, mk.err) {
			return mk.key
		}
	}
	return ""
}

func (k Kind) String() string {
	switch k {
	case KTPPhoto:
		return "KTP photo"
	case Selfie:
		return "selfie"
	case Specimen:
		return "signature specimen"
	case PaymentProof:
		return "payment proof"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// minSize is the smallest acceptable width and height of each kind.
func (k Kind) minSize() (w, h int, ok bool) {
	switch k {
	case KTPPhoto:
		return 320, 200, true
	case Selfie:
		return 240, 240, true
	case Specimen:
		return 100, 40, true
	case PaymentProof:
		return 200, 200, true
	}
	return 0, 0, false
}

type codec struct {
	name         string
	decodeConfig func([]byte) (image.Config, error)
	decode       func([]byte) (image.Image, error)
}

var (
	jpegCodec = codec{"JPEG",
		func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) },
		func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }}
	pngCodec = codec{"PNG",
		func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) },
		func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }}
)

// sniff picks the decoder from the magic bytes. It deliberately does not use
// image.Decode's registry, which any package in the binary can extend (GIF,
// BMP, WebP...).
func sniff(data []byte) (codec, bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return jpegCodec, true
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return pngCodec, true
	}
	return codec{}, false
}

// Clean decodes data, checks it is an image of sane dimensions for kind, and
// re-encodes it (dropping EXIF/metadata and anything after the image): KTP
// photo and selfie as JPEG (quality 90), specimen as PNG. It returns the
// re-encoded bytes.
func Clean(kind Kind, data []byte) ([]byte, error) {
	minW, minH, ok := kind.minSize()
	if !ok {
		return nil, fmt.Errorf("upload: unknown kind %d", int(kind)) // programming error
	}
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("%w (%s)", ErrEmpty, kind)
	case len(data) > MaxBytes:
		return nil, fmt.Errorf("%w (%s: %d bytes, at most %d)", ErrTooLarge, kind, len(data), MaxBytes)
	}
	c, ok := sniff(data)
	if !ok {
		return nil, fmt.Errorf("%w (%s)", ErrNotImage, kind)
	}
	cfg, err := c.decodeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s, %s header: %v)", ErrCorrupt, kind, c.name, err)
	}
	w, h := cfg.Width, cfg.Height
	if w < minW || h < minH || w > MaxSide || h > MaxSide || int64(w)*int64(h) > MaxPixels {
		return nil, fmt.Errorf("%w (%s: %dx%d, at least %dx%d, at most %dx%d and %d pixels)",
			ErrDimensions, kind, w, h, minW, minH, MaxSide, MaxSide, MaxPixels)
	}
	img, err := c.decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s, %s: %v)", ErrCorrupt, kind, c.name, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		return nil, fmt.Errorf("%w (%s: header says %dx%d, decoded %dx%d)", ErrCorrupt, kind, w, h, b.Dx(), b.Dy())
	}
	var out bytes.Buffer
	if kind == Specimen {
		err = png.Encode(&out, img)
	} else {
		err = jpeg.Encode(&out, flatten(img), &jpeg.Options{Quality: JPEGQuality})
	}
	if err != nil {
		return nil, fmt.Errorf("upload: re-encoding the %s: %v", kind, err)
	}
	return out.Bytes(), nil
}

// flatten composes an image with transparency onto white, since JPEG has no
// alpha and the encoder would otherwise turn transparent pixels black.
func flatten(img image.Image) image.Image {
	if o, ok := img.(interface{ Opaque() bool }); !ok || o.Opaque() {
		return img
	}
	b := img.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, image.White, image.Point{}, draw.Src)
	draw.Draw(dst, b, img, b.Min, draw.Over)
	return dst
}
