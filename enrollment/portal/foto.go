package portal

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/upload"
	"github.com/psre/appliance/store"
)

// fotoPage is step 3, "Foto dan Tandatangan", with the captcha, the
// privacy consent and "Simpan Data".
type fotoPage struct {
	Progress                       []stepView
	Errors                         map[string]string
	HasKTP, HasSelfie, HasSpecimen bool
	Versions                       [3]int
	CaptchaID                      string
	Consent                        bool
	PolicyVersion                  string
	Privacy                        template.HTML
}

func (p *Portal) fotoGet(w http.ResponseWriter, r *http.Request, sess *session) {
	wz := sess.wiz
	if step := p.firstIncomplete(wz); step != stepFoto {
		seeOther(w, r, stepPaths[step])
		return
	}
	if wz.captcha.id == "" {
		var err error
		if wz.captcha, err = p.newCaptcha(); err != nil {
			p.serverError(w, r, err)
			return
		}
	}
	p.render(w, r, http.StatusOK, "foto", "step.foto", fotoPage{
		Progress: progress(stepFoto), Errors: wz.errs[stepFoto],
		HasKTP: len(wz.ktp) > 0, HasSelfie: len(wz.selfie) > 0, HasSpecimen: len(wz.specimen) > 0,
		Versions: wz.versions, CaptchaID: wz.captcha.id, Consent: wz.consent,
		PolicyVersion: p.cfg.PrivacyPolicyVersion, Privacy: p.privacy[lang(r)],
	}, "post.js", "selfie.js", "signature.js")
}

// fotoPost takes the KTP photo (multipart), the consent and the captcha;
// with action "save" it is "Simpan Data": one Service.Register call.
func (p *Portal) fotoPost(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	}()
	if sess := p.session(r); sess != nil {
		sess.mu.Lock()
		done := sess.wiz == nil && sess.registered
		sess.mu.Unlock()
		if done { // "Simpan Data" pressed twice
			seeOther(w, r, "/register/selesai")
			return
		}
	}
	// Only a wizard that reached this step gets its photo decoded.
	if !p.atFotoStep(r) {
		seeOther(w, r, stepPaths[stepIdentitas])
		return
	}
	// Decode the KTP photo before taking the session lock.
	ktp, ktpErr, ktpGiven := p.formImage(r, "ktp_photo", upload.KTPPhoto)
	sess, err := p.wizardSession(w, r)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	defer sess.mu.Unlock()
	wz := sess.wiz
	if step := p.firstIncomplete(wz); step != stepFoto {
		seeOther(w, r, stepPaths[step])
		return
	}
	errs := map[string]string{}
	switch {
	case ktpErr != "":
		errs["ktp_photo"] = ktpErr
	case ktpGiven:
		p.setImage(sess, "ktp_photo", ktp)
	}
	wz.consent = r.PostFormValue("consent") == p.cfg.PrivacyPolicyVersion
	wz.errs[stepFoto] = errs
	if r.PostFormValue("action") == "back" {
		seeOther(w, r, stepPaths[stepAkun])
		return
	}
	// Every answer uses the captcha up, right or wrong.
	captchaOK := wz.captcha.matches(r.PostFormValue("captcha"))
	if wz.captcha, err = p.newCaptcha(); err != nil {
		p.serverError(w, r, err)
		return
	}
	for field, img := range map[string][]byte{"ktp_photo": wz.ktp, "selfie": wz.selfie, "specimen": wz.specimen} {
		if len(img) == 0 && errs[field] == "" {
			errs[field] = field + ".missing"
		}
	}
	if !wz.consent {
		errs["consent"] = "consent.required"
	}
	if !captchaOK {
		errs["captcha"] = "captcha.wrong"
	}
	if len(errs) > 0 {
		seeOther(w, r, stepPaths[stepFoto])
		return
	}
	reg := p.registration(wz)
	reg.Lang = lang(r)
	_, err = p.cfg.Service.Register(r.Context(), reg)
	var fe *enrollment.FieldError
	var te *store.TakenError
	switch {
	case errors.As(err, &te):
		p.sendBack(w, r, wz, te.Field, "taken."+te.Field)
	case errors.As(err, &fe):
		p.sendBack(w, r, wz, fe.Field, fe.Key)
	case err != nil:
		p.serverError(w, r, err)
	default:
		sess.wiz, sess.registered = nil, true
		p.sessions.charge(sess, 0)
		seeOther(w, r, "/register/selesai")
	}
}

// sendBack shows a Register error on the step that owns field.
func (p *Portal) sendBack(w http.ResponseWriter, r *http.Request, wz *wizard, field, key string) {
	step, ok := fieldStep[field]
	if !ok {
		step = stepFoto
	}
	if wz.errs[step] == nil {
		wz.errs[step] = map[string]string{}
	}
	wz.errs[step][field] = p.errorKey(key)
	seeOther(w, r, stepPaths[step])
}

// captchaReload gives the wizard a new captcha.
func (p *Portal) captchaReload(w http.ResponseWriter, r *http.Request, sess *session) {
	var err error
	if sess.wiz.captcha, err = p.newCaptcha(); err != nil {
		p.serverError(w, r, err)
		return
	}
	seeOther(w, r, stepPaths[stepFoto])
}

func (p *Portal) selesai(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "selesai", "selesai.title", nil)
}

// atFotoStep reports whether the caller has a wizard whose first two steps
// are complete, without creating anything.
func (p *Portal) atFotoStep(r *http.Request) bool {
	sess := p.session(r)
	if sess == nil {
		return false
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.wiz != nil && p.firstIncomplete(sess.wiz) == stepFoto
}
