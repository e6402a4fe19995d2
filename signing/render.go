package signing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// Preview rendering bounds.
const (
	renderTimeout  = 20 * time.Second
	maxRenderBytes = 16 << 20
	// PreviewSide is the longest side, in pixels, of RenderFirstPage's image.
	PreviewSide = 1000
)

// RenderFirstPage renders page 1 of pdf as a PNG whose longest side is
// PreviewSide pixels, for the upload preview. See RenderPage.
func RenderFirstPage(ctx context.Context, pdf []byte) ([]byte, error) {
	return RenderPage(ctx, pdf, 1, PreviewSide)
}

// RenderPage renders one page (1-based) of pdf as a PNG that fits in a
// side×side box, by running poppler's pdftoppm (Debian package
// poppler-utils) on standard input, bounded by a 20-second timeout and a
// 16 MB output. No pure-Go renderer handles real-world PDFs; pdftoppm runs
// in its own process, so a crash on a hostile file cannot take the
// appliance down. pdf is inspected first; its errors are Inspect's.
// The image shows the page as viewers do (after /Rotate); a box drawn on
// it converts to an Appearance.Rect with PageSize.RectFromView, with
// points = pixels × ViewSize / image size.
func RenderPage(ctx context.Context, pdf []byte, page, side int) ([]byte, error) {
	info, err := Inspect(pdf)
	if err != nil {
		return nil, err
	}
	if page < 1 || page > info.Pages || side < 16 || side > 4000 {
		return nil, fmt.Errorf("signing: cannot render page %d of %d at %d pixels", page, info.Pages, side)
	}
	ctx, cancel := context.WithTimeout(ctx, renderTimeout)
	defer cancel()
	p := fmt.Sprint(page)
	cmd := exec.CommandContext(ctx, "pdftoppm", "-png", "-f", p, "-l", p,
		"-scale-to", fmt.Sprint(side), "-singlefile", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, errOut := &limitedBuffer{max: maxRenderBytes}, &limitedBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("signing: pdftoppm is not installed (apt-get install poppler-utils): %w", err)
		}
		return nil, fmt.Errorf("signing: pdftoppm page %d: %w (%s)", page, err, bytes.TrimSpace(errOut.buf.Bytes()))
	}
	if out.over || !bytes.HasPrefix(out.buf.Bytes(), []byte("\x89PNG")) {
		return nil, fmt.Errorf("signing: pdftoppm page %d: no PNG of at most %d bytes", page, maxRenderBytes)
	}
	return out.buf.Bytes(), nil
}

// limitedBuffer keeps the first max bytes written and notes any excess.
type limitedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); len(p) > room {
		l.over = true
		l.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return l.buf.Write(p)
}
