package signing

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // specimens may be JPEG
	"image/png"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Appearance image resolution and bounds.
const (
	pxPerPt          = 4    // pixels per point of the signature box
	maxAppearancePx  = 2400 // longest side of the composed image
	maxSpecimenPx    = 4096 // longest side of a specimen accepted
	textShare        = 0.42 // of the box height, for the lines under a specimen
	appearanceMargin = 0.03 // of the box width, left and right of the text
)

// inkColour is the colour of the text lines (a ballpoint blue).
func inkColour() color.NRGBA { return color.NRGBA{R: 0x1a, G: 0x23, B: 0x7e, A: 0xff} }

// composeAppearance draws a's specimen with its text lines under it into
// one transparent PNG the shape of a.Rect, turned so that it is upright on
// a page with /Rotate rotate. pdfsign embeds it as an image XObject with
// an alpha soft mask.
func composeAppearance(a *Appearance, rotate int) ([]byte, error) {
	vw, vh := a.Rect[2]-a.Rect[0], a.Rect[3]-a.Rect[1]
	if rotate == 90 || rotate == 270 {
		vw, vh = vh, vw
	}
	scale := float64(pxPerPt)
	if m := max(vw, vh) * scale; m > maxAppearancePx {
		scale *= maxAppearancePx / m
	}
	w, h := int(vw*scale), int(vh*scale)
	canvas := image.NewNRGBA(image.Rect(0, 0, w, h))
	textH := 0
	if len(a.Lines) > 0 {
		textH = h
		if len(a.Specimen) > 0 {
			textH = int(float64(h) * textShare)
		}
	}
	if len(a.Specimen) > 0 {
		if err := drawSpecimen(canvas, image.Rect(0, 0, w, h-textH), a.Specimen); err != nil {
			return nil, err
		}
	}
	if textH > 0 {
		if err := drawLines(canvas, image.Rect(0, h-textH, w, h), a.Lines); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, rotateCCW(canvas, rotate)); err != nil {
		return nil, fmt.Errorf("encode appearance: %w", err)
	}
	return out.Bytes(), nil
}

// drawSpecimen scales the specimen image to fit area, keeping its aspect
// ratio, centred.
func drawSpecimen(dst *image.NRGBA, area image.Rectangle, specimen []byte) error {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(specimen))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSpecimen, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxSpecimenPx || cfg.Height > maxSpecimenPx {
		return fmt.Errorf("%w: %dx%d pixels", ErrSpecimen, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(specimen))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSpecimen, err)
	}
	if area.Dx() < 1 || area.Dy() < 1 {
		return nil
	}
	sw, sh := float64(cfg.Width), float64(cfg.Height)
	f := min(float64(area.Dx())/sw, float64(area.Dy())/sh)
	dw, dh := max(1, int(sw*f)), max(1, int(sh*f))
	x0 := area.Min.X + (area.Dx()-dw)/2
	y0 := area.Min.Y + (area.Dy()-dh)/2
	xdraw.CatmullRom.Scale(dst, image.Rect(x0, y0, x0+dw, y0+dh), img, img.Bounds(), xdraw.Over, nil)
	return nil
}

// drawLines writes the lines in Go Regular, one size for all, as large as
// fits both the area's height and its width.
func drawLines(dst *image.NRGBA, area image.Rectangle, lines []string) error {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return fmt.Errorf("parse font: %w", err)
	}
	margin := int(float64(area.Dx()) * appearanceMargin)
	lineH := float64(area.Dy()) / float64(len(lines))
	size := lineH * 0.8
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return fmt.Errorf("font face: %w", err)
	}
	widest := 0
	for _, l := range lines {
		widest = max(widest, font.MeasureString(face, l).Ceil())
	}
	if avail := area.Dx() - 2*margin; widest > avail && avail > 0 {
		face.Close()
		size *= float64(avail) / float64(widest)
		if face, err = opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone}); err != nil {
			return fmt.Errorf("font face: %w", err)
		}
	}
	defer face.Close()
	d := font.Drawer{Dst: dst, Src: image.NewUniform(inkColour()), Face: face}
	ascent := face.Metrics().Ascent.Ceil()
	for i, l := range lines {
		top := float64(area.Min.Y) + lineH*float64(i) + (lineH-size)/2
		d.Dot = fixed.P(area.Min.X+margin, int(top)+ascent)
		d.DrawString(l)
	}
	return nil
}
