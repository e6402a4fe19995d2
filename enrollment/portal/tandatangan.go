package portal

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/signing"
	"github.com/psre/appliance/store"
)

// "Tandatangan" (seed step 21): a subscriber whose certificate is issued
// uploads a PDF, sees its first page, chooses the page and a corner for
// the visible signature, asks for an SMS code bound to the document's
// SHA-256, and signs with the account password and that code. The signed
// PDF is then offered for download. See tandatangan_store.go for where
// the documents are kept and tandatangan_files.go for the preview, the
// download and the placement.

// tandatanganPage is the page's data.
type tandatanganPage struct {
	Refusal string // catalog key: why this subscriber cannot sign (nothing else is shown)
	Error   string // why the last action was refused, in the caller's language
	Flash   string // catalog key
	Doc     *docView
	Signed  *signedView
}

type docView struct {
	Name, SHA256, Preview string
	Pages, Page           int
	Pos                   string
	Positions             []string // the position presets
	CodeSent              bool
	Phone                 string // masked
}

type signedView struct {
	Name, At, TimestampSerial string
}

// signer returns the caller's applicant and session if they may sign:
// logged in (else to the login page), their application issued and its
// certificate good and current. Otherwise it shows the page that says why.
func (p *Portal) signer(w http.ResponseWriter, r *http.Request) (store.Applicant, *session, bool) {
	a, app, ok := p.mine(w, r)
	if !ok {
		return a, nil, false
	}
	key, err := p.cannotSign(app)
	if err != nil {
		p.serverError(w, r, err)
		return a, nil, false
	}
	sess := p.session(r)
	if key == "" && sess == nil {
		key = "session.expired"
	}
	if key != "" {
		p.render(w, r, http.StatusConflict, "tandatangan", "tandatangan.title", tandatanganPage{Refusal: key})
		return a, nil, false
	}
	return a, sess, true
}

// cannotSign returns the catalog key of the reason app cannot sign, or "".
func (p *Portal) cannotSign(app store.Application) (string, error) {
	switch {
	case app.State == enrollment.StateRevoked:
		return "tandatangan.revoked", nil
	case app.State == enrollment.StateExpired:
		return "tandatangan.expired", nil
	case app.State != enrollment.StateIssued || app.Certificate == nil:
		return "tandatangan.not_issued", nil
	}
	rec, err := p.cfg.DB.Certificate(app.Certificate.Serial)
	switch {
	case err != nil:
		return "", err
	case rec.Status != store.StatusGood || app.Revocation != nil:
		return "tandatangan.revoked", nil
	case !p.cfg.Now().Before(app.Certificate.NotAfter):
		return "tandatangan.expired", nil
	}
	return "", nil
}

// tandatangan shows the page: the upload form, or the document with its
// preview and the signing forms, and the signed result to download.
func (p *Portal) tandatangan(w http.ResponseWriter, r *http.Request) {
	a, sess, ok := p.signer(w, r)
	if ok {
		q := r.URL.Query()
		page, _ := strconv.Atoi(q.Get("page"))
		p.renderTandatangan(w, r, http.StatusOK, a, sess, page, q.Get("pos"), tandatanganPage{Flash: p.takeFlash(r)})
	}
}

// renderTandatangan fills pg with the session's document (shown at page
// and position pos, defaults when out of range) and signed result.
func (p *Portal) renderTandatangan(w http.ResponseWriter, r *http.Request, status int, a store.Applicant, sess *session, page int, pos string, pg tandatanganPage) {
	if doc, ok := p.docs.document(sess, a.ID); ok {
		page, pos = placementChoice(doc.info, page, pos)
		pg.Doc = &docView{Name: doc.name, SHA256: hex.EncodeToString(doc.info.SHA256[:]), Pages: doc.info.Pages, Page: page, Pos: pos,
			Positions: positions, CodeSent: doc.codeSent, Phone: maskPhone(a.Phone),
			Preview: fmt.Sprintf("/tandatangan/preview.png?page=%d&pos=%s", page, pos)}
	}
	if s, ok := p.docs.signed(sess, a.ID); ok {
		pg.Signed = &signedView{Name: s.name, At: p.formatTime(lang(r), s.at), TimestampSerial: upperHex(s.timestampSerial)}
	}
	p.render(w, r, status, "tandatangan", "tandatangan.title", pg)
}

// upload takes the PDF of the multipart field "pdf", checks it with
// signing.Inspect and keeps it in the session in place of any earlier one.
// A refused file changes nothing.
func (p *Portal) upload(w http.ResponseWriter, r *http.Request) {
	defer removeMultipart(r)
	a, sess, ok := p.signer(w, r)
	if !ok {
		return
	}
	// Take a PDF slot before reading, so that waiting uploads hold no
	// second copy of their file (the multipart form holds the first).
	if !p.docs.acquire(r.Context()) {
		return // the client went away
	}
	data, name, key := p.readPDF(r)
	var info signing.Info
	if key == "" {
		info, key = p.inspect(r, data)
	}
	p.docs.release()
	if key == "" {
		doc := &signDoc{name: cleanDocName(name), pdf: data, info: info}
		if p.docs.update(sess, a.ID, func(e *docEntry) { e.doc = doc }) {
			p.log.InfoContext(r.Context(), "document to sign uploaded", "applicant", a.ID, "pages", info.Pages, "size", info.Size)
			seeOther(w, r, "/tandatangan")
			return
		}
		key = "signing.too_large"
	}
	p.renderTandatangan(w, r, http.StatusUnprocessableEntity, a, sess, 0, "", tandatanganPage{Error: p.cats[lang(r)].T(key)})
}

// readPDF reads the "pdf" file, at most signing.MaxBytes+1 bytes of it.
func (p *Portal) readPDF(r *http.Request) (data []byte, name, key string) {
	f, hdr, err := r.FormFile("pdf")
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, "", "signing.too_large"
		}
		return nil, "", "tandatangan.file_required"
	}
	defer f.Close()
	if hdr.Size == 0 && hdr.Filename == "" {
		return nil, "", "tandatangan.file_required"
	}
	if data, err = io.ReadAll(io.LimitReader(f, signing.MaxBytes+1)); err != nil {
		return nil, "", "signing.broken"
	}
	return data, hdr.Filename, ""
}

// inspect runs signing.Inspect; the caller holds a PDF slot.
func (p *Portal) inspect(r *http.Request, data []byte) (signing.Info, string) {
	info, err := signing.Inspect(data)
	if err != nil {
		key := signing.MessageKey(err)
		if key == "" {
			key = "signing.broken"
		}
		p.log.InfoContext(r.Context(), "uploaded document refused", "reason", key, "err", err)
		return info, key
	}
	return info, ""
}

// formDocument returns the session's document if the form names it (the
// hidden field "document", its SHA-256): what the subscriber saw is what
// the code and the signature are for. Otherwise it answers and reports
// false.
func (p *Portal) formDocument(w http.ResponseWriter, r *http.Request, a store.Applicant, sess *session) (*signDoc, bool) {
	doc, ok := p.docs.document(sess, a.ID)
	if !ok {
		seeOther(w, r, "/tandatangan")
		return nil, false
	}
	if r.PostFormValue("document") != hex.EncodeToString(doc.info.SHA256[:]) {
		p.renderTandatangan(w, r, http.StatusConflict, a, sess, 0, "", tandatanganPage{Error: p.cats[lang(r)].T("tandatangan.document_changed")})
		return nil, false
	}
	return doc, true
}

// refusal answers the errors that the code and signing steps share and
// reports whether err was one of them.
func (p *Portal) refusal(w http.ResponseWriter, r *http.Request, a store.Applicant, sess *session, page int, pos string, err error) bool {
	cat := p.cats[lang(r)]
	var se *enrollment.StateError
	var te *enrollment.ThrottledError
	status, msg := 0, ""
	switch {
	case errors.As(err, &se):
		p.render(w, r, http.StatusConflict, "tandatangan", "tandatangan.title", tandatanganPage{Refusal: "tandatangan.not_issued"})
		return true
	case errors.Is(err, enrollment.ErrCertificateNotUsable):
		p.render(w, r, http.StatusConflict, "tandatangan", "tandatangan.title", tandatanganPage{Refusal: "tandatangan.not_usable"})
		return true
	case errors.Is(err, enrollment.ErrNoSigner):
		status, msg = http.StatusServiceUnavailable, cat.T("tandatangan.unavailable")
	case errors.Is(err, enrollment.ErrPassword):
		status, msg = http.StatusUnprocessableEntity, cat.T("tandatangan.password_wrong")
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(te.Wait.Seconds())), 1)))
		status, msg = http.StatusTooManyRequests, cat.T("login.throttled_one")
		if mins := int(math.Ceil(te.Wait.Minutes())); mins > 1 {
			msg = fmt.Sprintf(cat.T("login.throttled"), mins)
		}
	case signing.MessageKey(err) != "":
		status, msg = http.StatusUnprocessableEntity, cat.T(signing.MessageKey(err))
	default:
		var ok bool
		if status, msg, ok = p.codeRefusal(w, r, err); !ok {
			return false
		}
	}
	p.renderTandatangan(w, r, status, a, sess, page, pos, tandatanganPage{Error: msg})
	return true
}
