package portal

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/psre/appliance/enrollment"
)

// sendCode is "Kirim kode OTP": an SMS code bound to the SHA-256 of the
// session's document, naming it.
func (p *Portal) sendCode(w http.ResponseWriter, r *http.Request) {
	a, sess, ok := p.signer(w, r)
	if !ok {
		return
	}
	doc, ok := p.formDocument(w, r, a, sess)
	if !ok {
		return
	}
	page, pos := placementChoice(doc.info, formInt(r, "page"), r.PostFormValue("pos"))
	_, err := p.cfg.Service.SendSigningCode(r.Context(), a.ID, doc.info.SHA256[:], doc.name)
	if err != nil {
		if !p.refusal(w, r, a, sess, page, pos, err) {
			p.serverError(w, r, err)
		}
		return
	}
	p.docs.update(sess, a.ID, func(e *docEntry) {
		if e.doc != nil && e.doc.info.SHA256 == doc.info.SHA256 {
			sent := *e.doc
			sent.codeSent = true
			e.doc = &sent
		}
	})
	p.setFlash(r, "tandatangan.code_sent_flash")
	seeOther(w, r, placementURL(page, pos)+"#sign")
}

// sign is "Tandatangani": the account password and the SMS code sent for
// this document, the page and position chosen. A refusal changes nothing
// but the count of wrong passwords or codes.
func (p *Portal) sign(w http.ResponseWriter, r *http.Request) {
	a, sess, ok := p.signer(w, r)
	if !ok {
		return
	}
	doc, ok := p.formDocument(w, r, a, sess)
	if !ok {
		return
	}
	cat := p.cats[lang(r)]
	page, pos := formInt(r, "page"), r.PostFormValue("pos")
	rect, fits := placementRect(doc.info, page, pos)
	code, codeOK := formCode(r)
	password := r.PostFormValue("password")
	msg := ""
	switch {
	case !fits:
		msg = cat.T("signing.placement")
	case password == "":
		msg = cat.T("tandatangan.password_required")
	case !codeOK:
		msg = cat.T("otp.format")
	}
	if msg != "" {
		p.renderTandatangan(w, r, http.StatusUnprocessableEntity, a, sess, page, pos, tandatanganPage{Error: msg})
		return
	}
	if !p.docs.acquire(r.Context()) {
		return // the client went away
	}
	signed, sig, err := p.cfg.Service.SignDocument(r.Context(), a.ID, password, code, doc.name, doc.pdf,
		enrollment.Placement{Page: page, Rect: rect})
	p.docs.release()
	if err != nil {
		if p.refusal(w, r, a, sess, page, pos, err) {
			return
		}
		p.log.ErrorContext(r.Context(), "signing failed", "applicant", a.ID, "err", err)
		p.renderTandatangan(w, r, http.StatusInternalServerError, a, sess, page, pos, tandatanganPage{Error: cat.T("tandatangan.failed")})
		return
	}
	out := &signedDoc{name: signedName(doc.name), pdf: signed, timestampSerial: sig.TimestampSerial, at: sig.Signed}
	p.docs.update(sess, a.ID, func(e *docEntry) {
		e.signed = out
		if e.doc != nil && e.doc.info.SHA256 == doc.info.SHA256 {
			used := *e.doc
			used.codeSent = false
			e.doc = &used
		}
	})
	p.log.InfoContext(r.Context(), "document signed in the portal", "applicant", a.ID, "signature", sig.ID)
	p.setFlash(r, "tandatangan.signed")
	seeOther(w, r, placementURL(page, pos)+"#signed")
}

// signedPDF downloads the signed result, once: it leaves the session when
// it has been sent whole. It stays downloadable if the certificate is
// revoked meanwhile (the signature was made while it was good).
func (p *Portal) signedPDF(w http.ResponseWriter, r *http.Request) {
	a, _, ok := p.mine(w, r)
	if !ok {
		return
	}
	sess := p.session(r)
	var s *signedDoc
	if sess != nil {
		s, ok = p.docs.signed(sess, a.ID)
	}
	if s == nil || !ok {
		p.render(w, r, http.StatusNotFound, "error", "tandatangan.title", errorPage{Message: "tandatangan.no_signed", Account: true})
		return
	}
	cd := mime.FormatMediaType("attachment", map[string]string{"filename": s.name})
	if cd == "" {
		cd = `attachment; filename="dokumen-signed.pdf"`
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", cd)
	h.Set("Content-Length", strconv.Itoa(len(s.pdf)))
	if _, err := w.Write(s.pdf); err != nil {
		return
	}
	p.docs.update(sess, a.ID, func(e *docEntry) {
		if e.signed == s {
			e.signed = nil
		}
	})
}

// discard forgets the session's document and signed result.
func (p *Portal) discard(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := p.mine(w, r); !ok {
		return
	}
	if sess := p.session(r); sess != nil {
		p.docs.forget(sess)
	}
	seeOther(w, r, "/tandatangan")
}

// formInt is the form's integer field name, or 0.
func formInt(r *http.Request, name string) int {
	n, _ := strconv.Atoi(r.PostFormValue(name))
	return n
}

// placementURL is the page showing page and position pos.
func placementURL(page int, pos string) string {
	return "/tandatangan?" + url.Values{"page": {strconv.Itoa(page)}, "pos": {pos}}.Encode()
}
