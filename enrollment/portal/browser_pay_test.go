package portal_test

import (
	"context"
	"fmt"
	"time"

	"github.com/chromedp/chromedp"
)

// payThrough continues from the account page: "Ajukan Verifikasi", CS
// issues the invoice (through the Service), then the proof of payment is
// chosen as a file and sent.
func payThrough(tab context.Context, e *env, s staff, a applicant, proof string) error {
	sctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx,
		chromedp.Click(css("#request-verification")),
		chromedp.WaitVisible(css("#flash")),
	); err != nil {
		return fmt.Errorf("Ajukan Verifikasi: %w", err)
	}
	rec, err := e.db.ApplicantByIndex("username", []byte(a.username))
	if err != nil {
		return err
	}
	if _, err := e.svc.IssueInvoice(sctx, s.cs, rec.ID); err != nil {
		return err
	}
	if err := chromedp.Do(sctx,
		chromedp.Reload(),
		chromedp.WaitVisible(css("#invoice-amount")),
		chromedp.SetUploadFiles(css("#f-proof"), []string{proof}),
		chromedp.Click(css("#proof-submit")),
		chromedp.WaitVisible(css("#proof-received")),
	); err != nil {
		return fmt.Errorf("proof of payment: %w", err)
	}
	amount, err := chromedp.Run(tab, chromedp.Text(css("#invoice-amount")))
	if err != nil {
		return err
	}
	if app, err := e.db.ApplicationOf(rec.ID); err != nil || app.State != "payment_submitted" || amount != "Rp 150.000" {
		return fmt.Errorf("after the proof: state %q, amount %q, %v", app.State, amount, err)
	}
	return fitsWidth(tab, "Akun Saya with the invoice")
}
