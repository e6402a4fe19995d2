package portal

import (
	"net/http"
	"strings"
)

// formField is one input of a wizard step as the "fields" template shows
// it: the label, a hint, the error above the input, the value entered.
type formField struct {
	Name, Type, Label, Hint, Error, Value, Autocomplete, InputMode string
}

// DescribedBy lists the ids of the hint and error, for aria-describedby.
func (f formField) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, "f-"+f.Name+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, "f-"+f.Name+"-error")
	}
	return strings.Join(ids, " ")
}

type stepView struct {
	N             int
	Label         string
	Current, Done bool
}

func progress(current int) []stepView {
	var s []stepView
	for n := stepIdentitas; n <= stepFoto; n++ {
		s = append(s, stepView{N: n, Label: stepLabels[n], Current: n == current, Done: n < current})
	}
	return s
}

type stepPage struct {
	Progress []stepView
	Action   string
	Fields   []formField
}

func (p *Portal) renderStep(w http.ResponseWriter, r *http.Request, wz *wizard, step int) {
	errs := wz.errs[step]
	f := func(name, typ, value, autocomplete, inputMode, hint string) formField {
		return formField{Name: name, Type: typ, Label: "field." + name, Hint: hint, Error: errs[name],
			Value: value, Autocomplete: autocomplete, InputMode: inputMode}
	}
	page := stepPage{Progress: progress(step), Action: stepPaths[step]}
	switch step {
	case stepIdentitas:
		page.Fields = []formField{
			f("nik", "text", wz.nik, "off", "numeric", "field.nik.hint"),
			f("name", "text", wz.name, "name", "", "field.name.hint"),
			f("birth_date", "date", wz.birthDate, "bday", "", ""),
		}
	case stepAkun:
		pwHint := "field.password.hint"
		if wz.password != "" {
			pwHint = "field.password.kept"
		}
		page.Fields = []formField{
			f("username", "text", wz.username, "username", "", "field.username.hint"),
			f("password", "password", "", "new-password", "", pwHint),
			f("password_confirm", "password", "", "new-password", "", ""),
			f("email", "email", wz.email, "email", "email", "field.email.hint"),
			f("phone", "tel", wz.phone, "tel", "tel", "field.phone.hint"),
		}
	}
	p.render(w, r, http.StatusOK, stepNames[step], stepLabels[step], page)
}

var stepNames = [...]string{stepIdentitas: "identitas", stepAkun: "akun", stepFoto: "foto"}

func (p *Portal) identitasGet(w http.ResponseWriter, r *http.Request) {
	// A visit creates no session: the first valid POST does. Otherwise
	// anonymous GETs could fill the session store and evict real users.
	if p.session(r) == nil {
		p.renderStep(w, r, &wizard{}, stepIdentitas)
		return
	}
	p.withWizard(func(w http.ResponseWriter, r *http.Request, sess *session) {
		p.renderStep(w, r, sess.wiz, stepIdentitas)
	})(w, r)
}

func (p *Portal) identitasPost(w http.ResponseWriter, r *http.Request, sess *session) {
	wz := sess.wiz
	wz.nik = strings.TrimSpace(r.PostFormValue("nik"))
	wz.name = strings.TrimSpace(r.PostFormValue("name"))
	wz.birthDate = strings.TrimSpace(r.PostFormValue("birth_date"))
	wz.errs[stepIdentitas] = p.checkIdentitas(wz)
	if len(wz.errs[stepIdentitas]) > 0 {
		seeOther(w, r, stepPaths[stepIdentitas])
		return
	}
	seeOther(w, r, stepPaths[stepAkun])
}

func (p *Portal) akunGet(w http.ResponseWriter, r *http.Request, sess *session) {
	if len(p.checkIdentitas(sess.wiz)) > 0 {
		seeOther(w, r, stepPaths[stepIdentitas])
		return
	}
	p.renderStep(w, r, sess.wiz, stepAkun)
}

func (p *Portal) akunPost(w http.ResponseWriter, r *http.Request, sess *session) {
	wz := sess.wiz
	wz.username = strings.TrimSpace(r.PostFormValue("username"))
	wz.email = strings.TrimSpace(r.PostFormValue("email"))
	wz.phone = strings.TrimSpace(r.PostFormValue("phone"))
	pw, confirm := r.PostFormValue("password"), r.PostFormValue("password_confirm")
	if r.PostFormValue("action") == "back" {
		// Keep what was typed, unchecked; Next checks it.
		if pw != "" && pw == confirm {
			wz.password = pw
		}
		wz.errs[stepAkun] = nil
		seeOther(w, r, stepPaths[stepIdentitas])
		return
	}
	if pw == "" && confirm == "" {
		pw, confirm = wz.password, wz.password
	}
	errs := p.checkAkun(wz, pw, confirm)
	wz.errs[stepAkun] = errs
	if errs["password"] == "" && errs["password_confirm"] == "" {
		wz.password = pw
	} else {
		wz.password = ""
	}
	switch {
	case len(p.checkIdentitas(wz)) > 0:
		seeOther(w, r, stepPaths[stepIdentitas])
	case len(errs) > 0:
		seeOther(w, r, stepPaths[stepAkun])
	default:
		seeOther(w, r, stepPaths[stepFoto])
	}
}
