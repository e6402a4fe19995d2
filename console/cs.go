package console

import (
	"net/http"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// queueRow is one application of a queue with its applicant's name.
type queueRow struct {
	App  store.Application
	Name string
}

// queue lists the applications in state with their applicants' names.
func (c *Console) queue(state string) ([]queueRow, error) {
	apps, err := c.cfg.Service.Queue(state)
	if err != nil {
		return nil, err
	}
	rows := make([]queueRow, 0, len(apps))
	err = c.cfg.DB.View(func(tx *bolt.Tx) error {
		for _, app := range apps {
			a, err := store.GetApplicant(tx, app.ApplicantID)
			if err != nil {
				return err
			}
			rows = append(rows, queueRow{App: app, Name: a.Name})
		}
		return nil
	})
	return rows, err
}

type csQueueView struct{ Requested, Submitted, Awaiting []queueRow }

func (c *Console) csQueue(w http.ResponseWriter, r *http.Request) {
	var v csQueueView
	for _, q := range []struct {
		state string
		rows  *[]queueRow
	}{{enrollment.StateVerificationRequested, &v.Requested}, {enrollment.StatePaymentSubmitted, &v.Submitted}, {enrollment.StateAwaitingPayment, &v.Awaiting}} {
		rows, err := c.queue(q.state)
		if err != nil {
			c.serverError(w, r, err)
			return
		}
		*q.rows = rows
	}
	c.render(w, r, http.StatusOK, "cs_queue", "cs.queue.title", v)
}

// csAppView is what CS sees of an application: the record (state,
// invoice, proof) and the applicant's name and username, never the NIK,
// the photos or the contact details.
type csAppView struct {
	App            store.Application
	Name, Username string
	Error, Reason  string // a failed form's message key and its reason, re-shown
}

func (v csAppView) CanInvoice() bool { return v.App.State == enrollment.StateVerificationRequested }
func (v csAppView) CanDecide() bool  { return v.App.State == enrollment.StatePaymentSubmitted }
func (v csAppView) ProofIsImage() bool {
	return v.App.PaymentProof != nil && strings.HasPrefix(v.App.PaymentProof.ContentType, "image/")
}

func (c *Console) csApplication(w http.ResponseWriter, r *http.Request) {
	c.showCS(w, r, http.StatusOK, "", "")
}

// showCS renders the CS page of the request's application, with a form
// error when status is 400.
func (c *Console) showCS(w http.ResponseWriter, r *http.Request, status int, errKey, reason string) {
	app, a, err := c.load(officerOf(r), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, status, "cs_app", "cs.app.title", csAppView{App: app, Name: a.Name, Username: a.Username, Error: errKey, Reason: reason})
}

func (c *Console) csProof(w http.ResponseWriter, r *http.Request) {
	data, ctype, err := c.cfg.Service.PaymentProof(r.Context(), actorOf(r), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	h := w.Header()
	switch ctype {
	case "image/jpeg", "image/png":
		h.Set("Content-Disposition", "inline")
	case "application/pdf":
		h.Set("Content-Disposition", `attachment; filename="bukti-pembayaran.pdf"`)
	default:
		ctype = "application/octet-stream"
		h.Set("Content-Disposition", `attachment; filename="bukti-pembayaran"`)
	}
	serveFile(w, ctype, data)
}

// serveFile writes a personal file: no-store, no sniffing, sandboxed.
func serveFile(w http.ResponseWriter, ctype string, data []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	_, _ = w.Write(data)
}

// csAct runs one CS transition after the console's own checks.
func (c *Console) csAct(w http.ResponseWriter, r *http.Request, flash string,
	do func(enrollment.Actor, string) (store.Application, error)) {
	id := r.PathValue("id")
	if _, _, err := c.load(officerOf(r), id); err != nil {
		c.fail(w, r, err)
		return
	}
	if _, err := do(actorOf(r), id); err != nil {
		c.fail(w, r, err)
		return
	}
	done(w, r, "/cs/", flash)
}

func (c *Console) csInvoice(w http.ResponseWriter, r *http.Request) {
	c.csAct(w, r, "invoice_issued", func(a enrollment.Actor, id string) (store.Application, error) {
		return c.cfg.Service.IssueInvoice(r.Context(), a, id)
	})
}

func (c *Console) csConfirm(w http.ResponseWriter, r *http.Request) {
	c.csAct(w, r, "payment_confirmed", func(a enrollment.Actor, id string) (store.Application, error) {
		return c.cfg.Service.ConfirmPayment(r.Context(), a, id)
	})
}

func (c *Console) csReject(w http.ResponseWriter, r *http.Request) {
	reason, errKey := checkReason(r.PostFormValue("reason"))
	if errKey != "" {
		c.showCS(w, r, http.StatusBadRequest, errKey, reason)
		return
	}
	c.csAct(w, r, "payment_rejected", func(a enrollment.Actor, id string) (store.Application, error) {
		return c.cfg.Service.RejectPayment(r.Context(), a, id, reason)
	})
}

// checkReason trims a rejection reason and returns the message key of
// what is wrong with it, as the Service would refuse it.
func checkReason(s string) (reason, errKey string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return s, "form.reason_required"
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > enrollment.MaxReasonLength:
		return "", "form.reason_too_long"
	}
	return s, ""
}
