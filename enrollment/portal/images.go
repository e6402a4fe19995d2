package portal

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/psre/appliance/enrollment/upload"
)

// imageKinds maps the wizard's image fields to their kind and the type
// upload.Clean re-encodes them to.
var imageKinds = map[string]struct {
	kind  upload.Kind
	ctype string
	index int
}{
	"ktp_photo": {upload.KTPPhoto, "image/jpeg", 0},
	"selfie":    {upload.Selfie, "image/jpeg", 1},
	"specimen":  {upload.Specimen, "image/png", 2},
}

// clean reads at most upload.MaxBytes+1 bytes of an image and re-encodes
// it with upload.Clean. It returns a message key on failure.
func (p *Portal) clean(r *http.Request, kind upload.Kind, rd io.Reader) ([]byte, string) {
	out, _, key := p.cleanUpload(r, rd, func(data []byte) ([]byte, string, error) {
		img, err := upload.Clean(kind, data)
		return img, "", err
	})
	return out, key
}

// cleanUpload reads at most upload.MaxBytes+1 bytes of an upload and
// passes them to check (upload.Clean or upload.CleanProof), which returns
// the bytes to keep and their type. It returns a message key on failure.
// Decoding is bounded to a few at a time: one image may take hundreds of
// MB to decode.
func (p *Portal) cleanUpload(r *http.Request, rd io.Reader, check func([]byte) ([]byte, string, error)) ([]byte, string, string) {
	// Take a slot before reading, so waiting uploads hold no image bytes.
	select {
	case p.cleaning <- struct{}{}:
		defer func() { <-p.cleaning }()
	case <-r.Context().Done():
		return nil, "", "upload.corrupt"
	}
	data, err := io.ReadAll(io.LimitReader(rd, upload.MaxBytes+1))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, "", "upload.too_large"
		}
		return nil, "", "upload.corrupt"
	}
	out, ctype, err := check(data)
	if err != nil {
		key := upload.MessageKey(err)
		if key == "" {
			key = "upload.corrupt"
		}
		return nil, "", key
	}
	return out, ctype, ""
}

// formImage reads the file of a multipart field. given is false when the
// field is missing or the browser sent no file.
func (p *Portal) formImage(r *http.Request, field string, kind upload.Kind) (img []byte, errKey string, given bool) {
	f, hdr, err := r.FormFile(field)
	switch {
	case errors.Is(err, http.ErrMissingFile):
		return nil, "", false
	case err != nil:
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, "upload.too_large", true
		}
		return nil, "", false // not multipart: no file
	}
	defer f.Close()
	if hdr.Size == 0 && hdr.Filename == "" {
		return nil, "", false
	}
	img, errKey = p.clean(r, kind, f)
	return img, errKey, true
}

// setImage keeps a cleaned image in the locked session's wizard and
// accounts for its bytes.
func (p *Portal) setImage(sess *session, field string, img []byte) {
	wz := sess.wiz
	switch field {
	case "ktp_photo":
		wz.ktp = img
	case "selfie":
		wz.selfie = img
	case "specimen":
		wz.specimen = img
	}
	wz.versions[imageKinds[field].index]++
	p.sessions.charge(sess, wz.imageBytes())
}

// imagePost takes a selfie or a specimen POSTed by the page's script as the
// raw body (CSRF token in a header) and answers JSON for the status line.
func (p *Portal) imagePost(field string) http.HandlerFunc {
	kind := imageKinds[field].kind
	return func(w http.ResponseWriter, r *http.Request) {
		sess := p.session(r)
		if sess == nil || !p.atFotoStep(r) {
			p.jsonStatus(w, r, http.StatusConflict, "session.expired")
			return
		}
		img, key := p.clean(r, kind, r.Body)
		if key != "" {
			p.jsonStatus(w, r, http.StatusUnprocessableEntity, key)
			return
		}
		sess.mu.Lock()
		defer sess.mu.Unlock()
		if sess.wiz == nil {
			p.jsonStatus(w, r, http.StatusConflict, "session.expired")
			return
		}
		p.setImage(sess, field, img)
		if errs := sess.wiz.errs[stepFoto]; errs != nil {
			delete(errs, field)
		}
		p.jsonStatus(w, r, http.StatusOK, "status.saved")
	}
}

// jsonStatus answers {"ok": ..., "message": ...} with the message in the
// caller's language.
func (p *Portal) jsonStatus(w http.ResponseWriter, r *http.Request, status int, key string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		OK      bool   `json:"ok"`
		Message string `json:"message"`
	}{status == http.StatusOK, p.cats[lang(r)].T(key)})
}

// preview shows the caller their own saved image.
func (p *Portal) preview(w http.ResponseWriter, r *http.Request) {
	field := r.PathValue("kind")
	k, ok := imageKinds[field]
	var img []byte
	if sess := p.session(r); ok && sess != nil {
		sess.mu.Lock()
		if wz := sess.wiz; wz != nil {
			img = [][]byte{wz.ktp, wz.selfie, wz.specimen}[k.index]
		}
		sess.mu.Unlock()
	}
	if len(img) == 0 {
		p.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", k.ctype)
	_, _ = w.Write(img)
}
