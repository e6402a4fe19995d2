package portal

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/upload"
	"github.com/psre/appliance/store"
)

// invoiceView is CS's invoice (seed step 9) as the pages show it.
type invoiceView struct {
	Number, Amount, BankName, AccountNumber, AccountName, VirtualAccount, Reference, Due string
	Overdue                                                                              bool
}

// wib is Jakarta time, Waktu Indonesia Barat: UTC+7 all year (no daylight
// saving since 1964), so no time zone database is needed.
var wib = time.FixedZone("WIB", 7*60*60)

// formatTime writes t in Jakarta time as the language writes dates, e.g.
// "15 Juni 2026 pukul 14.30 WIB" or "15 June 2026, 14:30 WIB".
func (p *Portal) formatTime(l string, t time.Time) string {
	t = t.In(wib)
	cat := p.cats[l]
	return fmt.Sprintf(cat.T("date.format"), t.Day(), cat.T(fmt.Sprintf("month.%d", t.Month())), t.Year(), t.Hour(), t.Minute())
}

func (p *Portal) invoiceView(r *http.Request, inv *store.Invoice) *invoiceView {
	if inv == nil {
		return nil
	}
	return &invoiceView{Number: inv.Number, Amount: enrollment.FormatRupiah(inv.Amount), BankName: inv.BankName,
		AccountNumber: inv.AccountNumber, AccountName: inv.AccountName, VirtualAccount: inv.VirtualAccount,
		Reference: inv.Reference, Due: p.formatTime(lang(r), inv.Due), Overdue: !p.cfg.Now().Before(inv.Due)}
}

type invoicePage struct {
	Name       string // the applicant's
	Invoice    *invoiceView
	StateLabel string // catalog key
}

// invoice is the printable invoice page of the caller's application.
func (p *Portal) invoice(w http.ResponseWriter, r *http.Request) {
	a, app, ok := p.mine(w, r)
	if !ok {
		return
	}
	if app.Invoice == nil {
		p.render(w, r, http.StatusNotFound, "error", "invoice.title", errorPage{Message: "invoice.none", Account: true})
		return
	}
	label := "state.unknown"
	if _, ok := p.cats[languages[0]]["state."+app.State]; ok {
		label = "state." + app.State
	}
	p.render(w, r, http.StatusOK, "invoice", "invoice.title", invoicePage{Name: a.Name, Invoice: p.invoiceView(r, app.Invoice), StateLabel: label})
}

// paymentProof takes the proof of payment (seed step 11) from the
// multipart field "proof": an image, re-encoded, or a PDF that parses and
// is not encrypted, at most 5 MB. A refusal shows the account page with
// the reason and changes nothing.
func (p *Portal) paymentProof(w http.ResponseWriter, r *http.Request) {
	defer removeMultipart(r)
	a, app, ok := p.mine(w, r)
	if !ok {
		return
	}
	if app.State != enrollment.StateAwaitingPayment {
		seeOther(w, r, "/account")
		return
	}
	data, ctype, key := p.formProof(r)
	if key == "" {
		_, err := p.cfg.Service.SubmitPaymentProof(r.Context(), a.ID, data, ctype)
		var fe *enrollment.FieldError
		var se *enrollment.StateError
		switch {
		case errors.As(err, &se):
			seeOther(w, r, "/account")
			return
		case errors.As(err, &fe):
			key = p.errorKey(fe.Key)
		case err != nil:
			p.serverError(w, r, err)
			return
		default:
			p.setFlash(r, "flash.proof_received")
			seeOther(w, r, "/account")
			return
		}
	}
	p.renderAccount(w, r, http.StatusUnprocessableEntity, a, app, "", key)
}

// formProof reads and checks the "proof" file with upload.CleanProof, a
// few at a time. It returns the bytes to keep and their type, or a message
// key.
func (p *Portal) formProof(r *http.Request) ([]byte, string, string) {
	f, hdr, err := r.FormFile("proof")
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, "", "upload.too_large"
		}
		return nil, "", "proof.missing"
	}
	defer f.Close()
	if hdr.Size == 0 && hdr.Filename == "" {
		return nil, "", "proof.missing"
	}
	return p.cleanUpload(r, f, upload.CleanProof)
}

// removeMultipart deletes the temporary files of a multipart form.
func removeMultipart(r *http.Request) {
	if r.MultipartForm != nil {
		_ = r.MultipartForm.RemoveAll()
	}
}
