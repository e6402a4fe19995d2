package console

import (
	"net/http"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

type raQueueView struct {
	Rows     []queueRow
	Required int // approvals needed (2: four eyes)
}

func (c *Console) raQueue(w http.ResponseWriter, r *http.Request) {
	rows, err := c.queue(enrollment.StateRAReview)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "ra_queue", "ra.queue.title", raQueueView{Rows: rows, Required: c.cfg.RAApprovals})
}

// raAppView is the RA's application page: the review file, the approvals
// so far and the decision forms.
type raAppView struct {
	File      enrollment.ReviewFile
	Required  int
	Approvals []approvalRow
	Confirmer bool // the viewing officer confirmed the payment
	Approved  bool // the viewing officer already approved
	Fields    []fieldRow
	Error     string // a failed form's message key
	Form      string // which form failed: "correctable" or "final"
	Reason    string
}

type approvalRow struct {
	Officer string
	At      time.Time
}

type fieldRow struct {
	Name    string
	Checked bool
}

func (v raAppView) InReview() bool   { return v.File.Application.State == enrollment.StateRAReview }
func (v raAppView) MayApprove() bool { return v.InReview() && !v.Confirmer && !v.Approved }
func (v raAppView) Images() []string { return imageKinds() }

func imageKinds() []string { return []string{"ktp_photo", "selfie", "specimen"} }

func (c *Console) raApplication(w http.ResponseWriter, r *http.Request) {
	c.showRA(w, r, http.StatusOK, raAppView{})
}

// showRA renders the RA page of the request's application; v carries a
// failed form's error, reason and fields (status 400).
func (c *Console) showRA(w http.ResponseWriter, r *http.Request, status int, v raAppView) {
	o, id := officerOf(r), r.PathValue("id")
	if _, _, err := c.load(o, id); err != nil {
		c.fail(w, r, err)
		return
	}
	file, err := c.cfg.Service.ReviewFile(r.Context(), actorOf(r), id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	checked := map[string]bool{}
	for _, f := range v.Fields {
		checked[f.Name] = f.Checked
	}
	v.Fields = nil
	for _, f := range enrollment.CorrectableFields {
		v.Fields = append(v.Fields, fieldRow{Name: f, Checked: checked[f]})
	}
	v.File, v.Required = file, c.cfg.RAApprovals
	v.Confirmer = file.Application.ConfirmedBy == o.Fingerprint
	err = c.cfg.DB.View(func(tx *bolt.Tx) error {
		for _, ap := range file.Application.Approvals {
			name := "?"
			if other, err := store.GetOfficer(tx, ap.Officer); err == nil {
				name = other.Name
			}
			v.Approved = v.Approved || ap.Officer == o.Fingerprint
			v.Approvals = append(v.Approvals, approvalRow{Officer: name, At: ap.At})
		}
		return nil
	})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	c.render(w, r, status, "ra_app", "ra.app.title", v)
}

func (c *Console) raImage(w http.ResponseWriter, r *http.Request) {
	id, kind := r.PathValue("id"), r.PathValue("kind")
	if !slices.Contains(imageKinds(), kind) {
		c.notFound(w, r)
		return
	}
	if _, _, err := c.load(officerOf(r), id); err != nil {
		c.fail(w, r, err)
		return
	}
	data, err := c.cfg.Service.ReviewImage(r.Context(), actorOf(r), id, kind)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ctype := http.DetectContentType(data)
	if ctype != "image/jpeg" && ctype != "image/png" {
		c.log.ErrorContext(r.Context(), "stored image is neither JPEG nor PNG", "route", routeOf(r), "kind", kind)
		c.errorPage(w, r, http.StatusUnsupportedMediaType, "error.image_type", "")
		return
	}
	w.Header().Set("Content-Disposition", "inline")
	serveFile(w, ctype, data)
}

func (c *Console) raApprove(w http.ResponseWriter, r *http.Request) {
	o, id := officerOf(r), r.PathValue("id")
	app, _, err := c.load(o, id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := approvalSegregation(app, o); err != nil {
		c.fail(w, r, err)
		return
	}
	app, err = c.cfg.Service.Approve(r.Context(), actorOf(r), id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	flash := "approved"
	if app.State == enrollment.StateRAReview {
		flash = "approved_first"
	}
	done(w, r, "/ra/", flash)
}

// approvalSegregation checks, as the Service does after the state, that o
// neither confirmed the payment nor already approved.
func approvalSegregation(app store.Application, o store.Officer) error {
	if app.State != enrollment.StateRAReview {
		return nil // the Service answers with the state
	}
	if app.ConfirmedBy == o.Fingerprint {
		return &enrollment.SegregationError{Rule: "the officer who confirmed the payment cannot approve the application"}
	}
	for _, ap := range app.Approvals {
		if ap.Officer == o.Fingerprint {
			return &enrollment.SegregationError{Rule: "a second approval must come from another RA officer"}
		}
	}
	return nil
}

// raReject is the correctable or the final rejection.
func (c *Console) raReject(correctable bool) http.HandlerFunc {
	form, flash := "final", "rejected_final"
	if correctable {
		form, flash = "correctable", "rejected_correctable"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		reason, errKey := checkReason(r.PostFormValue("reason"))
		var fields []string
		var rows []fieldRow
		if correctable {
			fields = r.PostForm["field"]
			for _, f := range fields {
				if !slices.Contains(enrollment.CorrectableFields, f) {
					errKey = "form.fields_invalid"
				}
				rows = append(rows, fieldRow{Name: f, Checked: true})
			}
			if len(fields) == 0 && errKey == "" {
				errKey = "form.fields_required"
			}
		}
		if errKey != "" {
			c.showRA(w, r, http.StatusBadRequest, raAppView{Error: errKey, Form: form, Reason: reason, Fields: rows})
			return
		}
		id := r.PathValue("id")
		if _, _, err := c.load(officerOf(r), id); err != nil {
			c.fail(w, r, err)
			return
		}
		if _, err := c.cfg.Service.Reject(r.Context(), actorOf(r), id, reason, fields, correctable); err != nil {
			c.fail(w, r, err)
			return
		}
		done(w, r, "/ra/", flash)
	}
}
