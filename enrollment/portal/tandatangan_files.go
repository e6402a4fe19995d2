package portal

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/psre/appliance/signing"
	"github.com/psre/appliance/store"
)

// The visible signature is a box of about 180×70 points in one of four
// corners of the page as viewers show it, 36 points (half an inch) from
// its edges; a smaller page gets smaller margins.
const (
	boxWidth, boxHeight = 180.0, 70.0
	boxMargin           = 36.0
)

// positions are the placement presets, the first the default.
var positions = []string{"bottom-right", "bottom-left", "top-right", "top-left"}

// placementChoice returns page and pos, or the defaults where they are
// out of range for the document.
func placementChoice(info signing.Info, page int, pos string) (int, string) {
	if page < 1 || page > info.Pages {
		page = 1
	}
	if !slices.Contains(positions, pos) {
		pos = positions[0]
	}
	return page, pos
}

// viewBox is the signature box of preset pos on page ps, in the page's
// view coordinates (top-left origin, points); ok is false when the page
// is too small for it.
func viewBox(ps signing.PageSize, pos string) (x, y, w, h float64, ok bool) {
	vw, vh := ps.ViewSize()
	m := min(boxMargin, (vw-boxWidth)/2, (vh-boxHeight)/2)
	if m < 0 || !slices.Contains(positions, pos) {
		return 0, 0, 0, 0, false
	}
	x, y = m, m
	if strings.HasSuffix(pos, "-right") {
		x = vw - m - boxWidth
	}
	if strings.HasPrefix(pos, "bottom-") {
		y = vh - m - boxHeight
	}
	return x, y, boxWidth, boxHeight, true
}

// placementRect is the /Rect of preset pos on page (1-based) of the
// document, or false if page or pos is not valid or the page too small.
func placementRect(info signing.Info, page int, pos string) ([4]float64, bool) {
	if page < 1 || page > info.Pages || page > len(info.PageSizes) {
		return [4]float64{}, false
	}
	ps := info.PageSizes[page-1]
	x, y, w, h, ok := viewBox(ps, pos)
	if !ok {
		return [4]float64{}, false
	}
	return ps.RectFromView(x, y, w, h), true
}

// tandatanganPreview renders a page of the session's document (query "page") with
// pdftoppm, in one of the PDF slots, and outlines the signature box of
// the position in query "pos".
func (p *Portal) tandatanganPreview(w http.ResponseWriter, r *http.Request) {
	a, sess, ok := p.signer(w, r)
	if !ok {
		return
	}
	doc, ok := p.docs.document(sess, a.ID)
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if !ok || err != nil || page < 1 || page > doc.info.Pages {
		p.notFound(w, r)
		return
	}
	if !p.docs.acquire(r.Context()) {
		return
	}
	img, err := signing.RenderPage(r.Context(), doc.pdf, page, signing.PreviewSide)
	p.docs.release()
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if x, y, bw, bh, ok := viewBox(doc.info.PageSizes[page-1], r.URL.Query().Get("pos")); ok {
		vw, _ := doc.info.PageSizes[page-1].ViewSize()
		if out, err := outline(img, x, y, bw, bh, vw); err == nil {
			img = out
		}
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(img)))
	_, _ = w.Write(img)
}

// outline draws the box (x, y, w, h in view points, viewWidth the page's
// width in the same units) on the PNG page image: a tinted fill and a
// 3-pixel border.
func outline(pngBytes []byte, x, y, w, h, viewWidth float64) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	img := image.NewRGBA(b)
	draw.Draw(img, b, src, b.Min, draw.Src)
	s := float64(b.Dx()) / viewWidth
	box := image.Rect(int(x*s), int(y*s), int((x+w)*s), int((y+h)*s)).Add(b.Min).Intersect(b)
	draw.Draw(img, box, image.NewUniform(color.NRGBA{11, 61, 145, 40}), image.Point{}, draw.Over)
	border := image.NewUniform(color.RGBA{11, 61, 145, 255})
	for _, edge := range []image.Rectangle{
		{box.Min, image.Pt(box.Max.X, box.Min.Y+3)}, {image.Pt(box.Min.X, box.Max.Y-3), box.Max},
		{box.Min, image.Pt(box.Min.X+3, box.Max.Y)}, {image.Pt(box.Max.X-3, box.Min.Y), box.Max},
	} {
		draw.Draw(img, edge.Intersect(box), border, image.Point{}, draw.Src)
	}
	var out bytes.Buffer
	err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, img)
	return out.Bytes(), err
}

// cleanDocName keeps the last path element of an uploaded file's name,
// without control characters, at most 100 characters; "dokumen.pdf" if
// nothing is left. The name goes in the SMS and the signature log.
func cleanDocName(name string) string {
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	name = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, name))
	if utf8.RuneCountInString(name) > 100 {
		name = string([]rune(name)[:100])
	}
	if name == "" || name == "." || name == ".." {
		return "dokumen.pdf"
	}
	return name
}

// signedName is the download name of the signed document.
func signedName(name string) string {
	if ext := path.Ext(name); strings.EqualFold(ext, ".pdf") {
		name = strings.TrimSuffix(name, ext)
	}
	return name + "-signed.pdf"
}

func upperHex(s string) string { return strings.ToUpper(s) }

// signatureView is one signature in the profile's log.
type signatureView struct {
	Time, Document, HashPrefix, TimestampSerial string
	Done                                        bool
}

// signatureList is the subscriber's signature log for the profile page,
// newest first; a signature authorised but never completed shows as such.
func (p *Portal) signatureList(r *http.Request, applicantID string) []signatureView {
	list, err := p.cfg.Service.Signatures(applicantID)
	if err != nil {
		p.log.ErrorContext(r.Context(), "signature log", "applicant", applicantID, "err", err)
		return nil
	}
	views := make([]signatureView, 0, len(list))
	for _, s := range list {
		v := signatureView{Document: s.DocumentName, HashPrefix: s.DocumentHash[:min(16, len(s.DocumentHash))],
			TimestampSerial: upperHex(s.TimestampSerial), Done: s.State == store.SignatureDone, Time: p.formatTime(lang(r), s.Created)}
		if v.Done {
			v.Time = p.formatTime(lang(r), s.Signed)
		}
		views = append(views, v)
	}
	return views
}
