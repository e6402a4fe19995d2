package portal

import (
	"net/http"
	"strings"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/identity"
)

// The wizard's steps, in order (seed steps 3 to 6).
const (
	stepIdentitas = 1
	stepAkun      = 2
	stepFoto      = 3
)

var stepPaths = [...]string{stepIdentitas: "/register/identitas", stepAkun: "/register/akun", stepFoto: "/register/foto"}
var stepLabels = [...]string{stepIdentitas: "step.identitas", stepAkun: "step.akun", stepFoto: "step.foto"}

// fieldStep names the step that owns each field, for errors that
// Service.Register (FieldError, TakenError) reports at the end.
var fieldStep = map[string]int{
	"nik": stepIdentitas, "name": stepIdentitas, "birth_date": stepIdentitas,
	"username": stepAkun, "password": stepAkun, "password_confirm": stepAkun, "email": stepAkun, "phone": stepAkun,
	"ktp_photo": stepFoto, "selfie": stepFoto, "specimen": stepFoto, "consent": stepFoto, "captcha": stepFoto,
}

const dateLayout = "2006-01-02"

// wizard is the registration in progress, held server-side in the session
// (never in hidden fields). Text is kept as entered, so that Back and Next
// show it again; it is checked each time a step is submitted or passed.
type wizard struct {
	nik, name, birthDate   string
	username, email, phone string
	password               string // only once it passed the checks and was confirmed
	ktp, selfie, specimen  []byte // cleaned by upload.Clean
	versions               [3]int // change counters of the images, for preview URLs
	consent                bool
	captcha                captchaState
	errs                   [stepFoto + 1]map[string]string // per step: field -> message key
}

func (wz *wizard) imageBytes() int { return len(wz.ktp) + len(wz.selfie) + len(wz.specimen) }

func (wz *wizard) birth() (time.Time, bool) {
	t, err := time.Parse(dateLayout, wz.birthDate)
	return t, err == nil
}

// cleanNIK drops the spaces people type between digit groups.
func cleanNIK(s string) string { return strings.Join(strings.Fields(s), "") }

// checkIdentitas checks step 1 as Service.Register will.
func (p *Portal) checkIdentitas(wz *wizard) map[string]string {
	errs := map[string]string{}
	birth, ok := wz.birth()
	if !ok {
		errs["birth_date"] = "birth_date.invalid"
	}
	if _, err := identity.ParseNIK(cleanNIK(wz.nik), birth, p.cfg.Now()); err != nil {
		key := identity.MessageKey(err)
		// Without a birth date, a mismatch or age failure says nothing.
		if ok || (key != "nik.birth_mismatch" && key != "nik.age") {
			errs["nik"] = p.errorKey(key)
		}
	}
	// The rule of Service.Register.
	if _, err := enrollment.CheckName(wz.name); err != nil {
		errs["name"] = "name.invalid"
	}
	return errs
}

// checkAkun checks step 2 with the password pw and its confirmation.
func (p *Portal) checkAkun(wz *wizard, pw, confirm string) map[string]string {
	errs := map[string]string{}
	username, err := identity.CheckUsername(wz.username)
	if err != nil {
		errs["username"] = p.errorKey(identity.MessageKey(err))
		username = strings.ToLower(wz.username)
	}
	birth, _ := wz.birth()
	if err := identity.CheckPassword(pw, username, cleanNIK(wz.nik), birth); err != nil {
		errs["password"] = p.errorKey(identity.MessageKey(err))
	} else if pw != confirm {
		errs["password_confirm"] = "password.mismatch"
	}
	if _, err := enrollment.NormalizeEmail(wz.email); err != nil {
		errs["email"] = "email.invalid"
	}
	if _, err := identity.NormalizePhone(wz.phone); err != nil {
		errs["phone"] = p.errorKey(identity.MessageKey(err))
	}
	return errs
}

// firstIncomplete returns the first step whose data does not pass, or
// stepFoto when steps 1 and 2 are complete.
func (p *Portal) firstIncomplete(wz *wizard) int {
	if len(p.checkIdentitas(wz)) > 0 {
		return stepIdentitas
	}
	if len(p.checkAkun(wz, wz.password, wz.password)) > 0 {
		return stepAkun
	}
	return stepFoto
}

func (p *Portal) registration(wz *wizard) enrollment.Registration {
	birth, _ := wz.birth()
	return enrollment.Registration{
		NIK: cleanNIK(wz.nik), Name: wz.name, BirthDate: birth,
		Username: wz.username, Password: wz.password, Email: wz.email, Phone: wz.phone,
		KTPPhoto: wz.ktp, Selfie: wz.selfie, Specimen: wz.specimen,
		ConsentVersion: p.cfg.PrivacyPolicyVersion,
	}
}

// withWizard adapts a wizard handler: h gets the caller's session, locked,
// with a wizard (both made as needed), and it is unlocked afterwards.
func (p *Portal) withWizard(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := p.wizardSession(w, r)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		defer sess.mu.Unlock()
		h(w, r, sess)
	}
}

// withExistingWizard is withWizard for pages past step 1: a caller without
// a session goes to step 1 and gets none (visits make no sessions).
func (p *Portal) withExistingWizard(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	wrapped := p.withWizard(h)
	return func(w http.ResponseWriter, r *http.Request) {
		if p.session(r) == nil {
			seeOther(w, r, stepPaths[stepIdentitas])
			return
		}
		wrapped(w, r)
	}
}

// wizardSession returns the caller's session, locked, with a wizard,
// creating both as needed. The caller unlocks sess.mu.
func (p *Portal) wizardSession(w http.ResponseWriter, r *http.Request) (*session, error) {
	sess := p.session(r)
	if sess == nil {
		var err error
		if sess, err = p.newSession(w); err != nil {
			return nil, err
		}
	}
	sess.mu.Lock()
	if sess.wiz == nil {
		sess.wiz = &wizard{}
		sess.registered = false
	}
	return sess, nil
}

func seeOther(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}
