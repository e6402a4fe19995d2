package signing

import (
	"image"
	"math"
)

// ViewSize is the page's size as a viewer shows it, after /Rotate.
func (p PageSize) ViewSize() (w, h float64) {
	if p.Rotate == 90 || p.Rotate == 270 {
		return p.Height, p.Width
	}
	return p.Width, p.Height
}

// RectFromView converts a box drawn on the page as a viewer shows it
// (after /Rotate; origin at the top-left corner, y downwards; x, y, w, h
// in points, see ViewSize) to an Appearance.Rect in the page's user space.
// A preview rendered at s pixels per point gives points as pixels / s.
func (p PageSize) RectFromView(x, y, w, h float64) [4]float64 {
	ax, ay := p.fromView(x, y)
	bx, by := p.fromView(x+w, y+h)
	return [4]float64{
		p.X + math.Min(ax, bx), p.Y + math.Min(ay, by),
		p.X + math.Max(ax, bx), p.Y + math.Max(ay, by),
	}
}

// fromView maps a point of the viewed page to unrotated user space
// relative to the MediaBox's lower-left corner.
func (p PageSize) fromView(vx, vy float64) (ux, uy float64) {
	switch p.Rotate {
	case 90:
		return vy, vx
	case 180:
		return p.Width - vx, vy
	case 270:
		return p.Width - vy, p.Height - vx
	}
	return vx, p.Height - vy
}

// rotateCCW returns src turned counter-clockwise by deg (0, 90, 180, 270),
// so that drawn into user space on a page with /Rotate deg it looks upright.
func rotateCCW(src *image.NRGBA, deg int) *image.NRGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if deg == 0 {
		return src
	}
	dw, dh := w, h
	if deg == 90 || deg == 270 {
		dw, dh = h, w
	}
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch deg {
			case 90:
				dx, dy = y, w-1-x
			case 180:
				dx, dy = w-1-x, h-1-y
			case 270:
				dx, dy = h-1-y, x
			}
			dst.SetNRGBA(dx, dy, src.NRGBAAt(b.Min.X+x, b.Min.Y+y))
		}
	}
	return dst
}
