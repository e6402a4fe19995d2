package portal

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/upload"
	"github.com/psre/appliance/store"
)

// correctionInputs are the inputs of the correctable fields; the images
// are checked with upload.Clean of their kind. The selfie is a file here,
// not a webcam capture.
var correctionInputs = map[string]struct {
	typ, hint, accept string
	kind              upload.Kind
}{
	"name":       {typ: "text", hint: "field.name.hint"},
	"nik":        {typ: "text", hint: "field.nik.hint"},
	"birth_date": {typ: "date"},
	"ktp_photo":  {typ: "file", hint: "corrections.photo_hint", accept: "image/jpeg,image/png", kind: upload.KTPPhoto},
	"selfie":     {typ: "file", hint: "corrections.photo_hint", accept: "image/jpeg,image/png", kind: upload.Selfie},
	"specimen":   {typ: "file", hint: "corrections.specimen_hint", accept: "image/png,image/jpeg", kind: upload.Specimen},
}

// orderedFields returns fields in the order of the registration form.
func orderedFields(fields []string) []string {
	var out []string
	for _, f := range enrollment.CorrectableFields {
		if slices.Contains(fields, f) {
			out = append(out, f)
		}
	}
	return out
}

// correctionField is one input of the correction form.
type correctionField struct {
	Name, Label, Type, Hint, Accept, Value, Error string
}

// DescribedBy lists the ids of the hint and error, for aria-describedby.
func (f correctionField) DescribedBy() string {
	return formField{Name: f.Name, Hint: f.Hint, Error: f.Error}.DescribedBy()
}

type correctionsPage struct {
	Reason string
	Fields []correctionField
	Error  string // a catalog key for the whole form
}

// correctable returns the caller's application if it awaits corrections;
// otherwise it sends the caller to the account page.
func (p *Portal) correctable(w http.ResponseWriter, r *http.Request) (store.Applicant, store.Application, bool) {
	a, app, ok := p.mine(w, r)
	if ok && (app.State != enrollment.StateRejectedCorrectable || app.Rejection == nil) {
		seeOther(w, r, "/account")
		ok = false
	}
	return a, app, ok
}

func (p *Portal) correctionsGet(w http.ResponseWriter, r *http.Request) {
	if _, app, ok := p.correctable(w, r); ok {
		p.renderCorrections(w, r, http.StatusOK, app, nil, nil, "")
	}
}

func (p *Portal) renderCorrections(w http.ResponseWriter, r *http.Request, status int, app store.Application, values, errs map[string]string, formErr string) {
	pg := correctionsPage{Reason: app.Rejection.Reason, Error: formErr}
	for _, f := range orderedFields(app.Rejection.Fields) {
		in := correctionInputs[f]
		pg.Fields = append(pg.Fields, correctionField{Name: f, Label: "correct." + f, Type: in.typ, Hint: in.hint,
			Accept: in.accept, Value: values[f], Error: errs[f]})
	}
	p.render(w, r, status, "corrections", "corrections.title", pg)
}

// correctionsPost resubmits the application with exactly the fields the
// RA named. A field the RA did not name is refused even when posted;
// every refusal shows the form again and changes nothing.
func (p *Portal) correctionsPost(w http.ResponseWriter, r *http.Request) {
	defer removeMultipart(r)
	a, app, ok := p.correctable(w, r)
	if !ok {
		return
	}
	_ = r.ParseMultipartForm(correctionLimit) // already parsed by the CSRF check; a plain form is parsed too
	named := orderedFields(app.Rejection.Fields)
	values, errs := map[string]string{}, map[string]string{}
	for _, f := range named {
		if correctionInputs[f].typ != "file" {
			values[f] = strings.TrimSpace(r.PostFormValue(f))
		}
	}
	for _, f := range enrollment.CorrectableFields {
		if !slices.Contains(named, f) && posted(r, f) {
			p.renderCorrections(w, r, http.StatusUnprocessableEntity, app, values, errs, "corrections.not_requested")
			return
		}
	}
	var c enrollment.Corrections
	for _, f := range named {
		v := values[f]
		switch f {
		case "name":
			c.Name = v
		case "nik":
			c.NIK = cleanNIK(v)
		case "birth_date":
			if t, err := time.Parse(dateLayout, v); err == nil {
				c.BirthDate = t
			} else if v != "" {
				errs[f] = "birth_date.invalid"
			}
		default:
			img, key, given := p.formImage(r, f, correctionInputs[f].kind)
			switch {
			case !given:
				errs[f] = "corrections.file_required"
			case key != "":
				errs[f] = key
			}
			setCorrectionImage(&c, f, img)
		}
		if v == "" && correctionInputs[f].typ != "file" {
			errs[f] = "corrections.required"
		}
	}
	if len(errs) > 0 {
		p.renderCorrections(w, r, http.StatusUnprocessableEntity, app, values, errs, "")
		return
	}
	_, err := p.cfg.Service.Resubmit(r.Context(), a.ID, c)
	var fe *enrollment.FieldError
	var te *store.TakenError
	var se *enrollment.StateError
	field, key := "", ""
	switch {
	case errors.Is(err, enrollment.ErrCorrectionFields):
		key = "corrections.fields"
	case errors.As(err, &te):
		field, key = te.Field, p.errorKey("taken."+te.Field)
	case errors.As(err, &fe):
		field, key = fe.Field, p.errorKey(fe.Key)
	case errors.As(err, &se):
		seeOther(w, r, "/account")
		return
	case err != nil:
		p.serverError(w, r, err)
		return
	default:
		p.setFlash(r, "flash.corrections_sent")
		seeOther(w, r, "/account")
		return
	}
	formErr := key
	if slices.Contains(named, field) {
		errs[field], formErr = key, ""
	}
	p.renderCorrections(w, r, http.StatusUnprocessableEntity, app, values, errs, formErr)
}

func setCorrectionImage(c *enrollment.Corrections, field string, img []byte) {
	switch field {
	case "ktp_photo":
		c.KTPPhoto = img
	case "selfie":
		c.Selfie = img
	case "specimen":
		c.Specimen = img
	}
}

// posted reports whether the request carries a value or a file for field.
func posted(r *http.Request, field string) bool {
	for _, v := range r.PostForm[field] {
		if strings.TrimSpace(v) != "" {
			return true
		}
	}
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File[field] {
			if fh.Size > 0 || fh.Filename != "" {
				return true
			}
		}
	}
	return false
}
