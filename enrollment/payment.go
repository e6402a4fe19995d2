package enrollment

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/store"
)

// InvoiceConfig is what CS's invoices say: the price and where to pay it.
type InvoiceConfig struct {
	Amount               int64  // rupiah
	BankName             string // e.g. "Bank Mandiri"
	AccountNumber        string
	AccountName          string
	VirtualAccountPrefix string        // digits; each invoice gets prefix + 10 random digits
	DueIn                time.Duration // default 72 h
}

var digits = regexp.MustCompile(`^[0-9]{0,10}$`)

// CheckInvoiceConfig checks c and fills in its defaults.
func CheckInvoiceConfig(c *InvoiceConfig) error { return c.check() }

func (c *InvoiceConfig) check() error {
	switch {
	case c.Amount <= 0:
		return errors.New("invoice: the amount must be positive")
	case c.BankName == "" || c.AccountNumber == "" || c.AccountName == "":
		return errors.New("invoice: bank name, account number and account name are required")
	case !digits.MatchString(c.VirtualAccountPrefix):
		return errors.New("invoice: the virtual account prefix must be at most 10 digits")
	}
	if c.DueIn == 0 {
		c.DueIn = 72 * time.Hour
	}
	return nil
}

// FormatRupiah writes an amount as Indonesians do: "Rp 150.000".
func FormatRupiah(amount int64) string {
	s := fmt.Sprint(amount)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	return "Rp " + b.String()
}

// MaxReasonLength bounds an officer's reason.
const MaxReasonLength = 1000

// ErrReasonRequired means a rejection came without a reason.
var ErrReasonRequired = errors.New("a reason is required to reject")

func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "", ErrReasonRequired
	}
	if utf8.RuneCountInString(reason) > MaxReasonLength || !utf8.ValidString(reason) {
		return "", fmt.Errorf("the reason is longer than %d characters", MaxReasonLength)
	}
	return reason, nil
}

// RequestVerification is the applicant's "Ajukan Verifikasi": the request
// goes to CS's queue and the applicant gets an acknowledgement.
func (s *Service) RequestVerification(ctx context.Context, applicantID string) (store.Application, error) {
	return s.transition(ctx, applicantID, step{
		action: "application.request_verification", from: []string{StateRegistered}, to: StateVerificationRequested,
		actor: Applicant(applicantID),
		change: func(_ *bolt.Tx, c *change) error {
			c.notify("request_received", nil)
			return nil
		},
	})
}

// IssueInvoice is CS answering a verification request with payment
// instructions.
func (s *Service) IssueInvoice(ctx context.Context, officer Actor, appID string) (store.Application, error) {
	return s.transition(ctx, appID, step{
		action: "application.issue_invoice", from: []string{StateVerificationRequested}, to: StateAwaitingPayment,
		actor: officer, role: store.RoleCS,
		change: func(_ *bolt.Tx, c *change) error {
			inv, err := s.newInvoice(officer)
			if err != nil {
				return err
			}
			c.app.Invoice = inv
			c.details["invoice"] = inv.Number
			c.details["amount"] = fmt.Sprint(inv.Amount)
			c.notify("payment_instructions", map[string]any{
				"Amount": FormatRupiah(inv.Amount), "BankName": inv.BankName, "AccountNumber": inv.AccountNumber,
				"AccountName": inv.AccountName, "VirtualAccount": inv.VirtualAccount, "Reference": inv.Reference,
				"DueDate": inv.Due, "InvoiceNumber": inv.Number,
			})
			return nil
		},
	})
}

func (s *Service) newInvoice(officer Actor) (*store.Invoice, error) {
	cfg := s.wf.Invoice
	now := s.now().UTC()
	va, err := randomDigits(s.random, 10)
	if err != nil {
		return nil, err
	}
	ref, err := randomDigits(s.random, 8)
	if err != nil {
		return nil, err
	}
	return &store.Invoice{
		Number: "INV-" + now.Format("20060102") + "-" + ref, Amount: cfg.Amount, Currency: "IDR",
		BankName: cfg.BankName, AccountNumber: cfg.AccountNumber, AccountName: cfg.AccountName,
		VirtualAccount: cfg.VirtualAccountPrefix + va, Reference: "PSRE" + ref,
		Due: now.Add(cfg.DueIn), IssuedBy: officer.ID, Issued: now,
	}, nil
}

func randomDigits(r io.Reader, n int) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b strings.Builder
	for range n {
		d, err := rand.Int(r, big.NewInt(10))
		if err != nil {
			return "", fmt.Errorf("random digits: %w", err)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String(), nil
}

// SubmitPaymentProof stores the applicant's proof of payment (already
// checked by upload.CleanProof), sealed like the other personal data.
func (s *Service) SubmitPaymentProof(ctx context.Context, applicantID string, proof []byte, contentType string) (store.Application, error) {
	if len(proof) == 0 || len(proof) > MaxImageBytes {
		return store.Application{}, &FieldError{Field: "proof", Key: "upload.size", Err: errors.New("missing or too large")}
	}
	return s.transition(ctx, applicantID, step{
		action: "application.submit_payment_proof", from: []string{StateAwaitingPayment}, to: StatePaymentSubmitted,
		actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, c *change) error {
			now := s.now().UTC()
			id := "applicant/" + applicantID + "/payment_proof/" + now.Format("20060102T150405.000000000")
			env, err := store.Seal(s.kek, s.random, proof, []byte(id))
			if err != nil {
				return fmt.Errorf("seal payment proof: %w", err)
			}
			if err := store.PutBlob(tx, id, env); err != nil {
				return err
			}
			c.app.PaymentProof = &store.Proof{BlobID: id, ContentType: contentType, Size: len(proof), Uploaded: now}
			c.app.PaymentRejection = ""
			c.details["content_type"] = contentType
			return nil
		},
	})
}

// ConfirmPayment is CS accepting the payment: the application goes to RA.
func (s *Service) ConfirmPayment(ctx context.Context, officer Actor, appID string) (store.Application, error) {
	return s.transition(ctx, appID, step{
		action: "application.confirm_payment", from: []string{StatePaymentSubmitted}, to: StateRAReview,
		actor: officer, role: store.RoleCS,
		change: func(_ *bolt.Tx, c *change) error {
			c.app.ConfirmedBy = officer.ID
			c.app.Approvals = nil
			c.notify("payment_confirmed", nil)
			return nil
		},
	})
}

// RejectPayment is CS refusing a payment proof: the applicant uploads
// another.
func (s *Service) RejectPayment(ctx context.Context, officer Actor, appID, reason string) (store.Application, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return store.Application{}, err
	}
	return s.transition(ctx, appID, step{
		action: "application.reject_payment", from: []string{StatePaymentSubmitted}, to: StateAwaitingPayment,
		actor: officer, role: store.RoleCS,
		change: func(_ *bolt.Tx, c *change) error {
			c.reason = reason
			c.app.PaymentRejection = reason
			c.notify("payment_rejected", map[string]any{"Reason": reason})
			return nil
		},
	})
}

// PaymentProof opens an application's payment proof for a CS officer.
func (s *Service) PaymentProof(ctx context.Context, officer Actor, appID string) ([]byte, string, error) {
	app, _, err := s.officerRead(officer, appID, store.RoleCS)
	if err != nil {
		return nil, "", err
	}
	if app.PaymentProof == nil {
		return nil, "", fmt.Errorf("payment proof of %s: %w", appID, store.ErrNotFound)
	}
	env, err := s.db.Blob(app.PaymentProof.BlobID)
	if err != nil {
		return nil, "", err
	}
	data, err := env.Open(s.kek, []byte(app.PaymentProof.BlobID))
	return data, app.PaymentProof.ContentType, err
}

// officerRead loads an application for an officer of one of roles,
// refusing a disabled officer, another role, or segregation.
func (s *Service) officerRead(officer Actor, appID string, roles ...string) (app store.Application, a store.Applicant, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if app, err = store.GetApplication(tx, appID); err != nil {
			return err
		}
		if a, err = store.GetApplicant(tx, app.ApplicantID); err != nil {
			return err
		}
		for _, role := range roles {
			if _, err = s.authorize(tx, step{actor: officer, role: role}, a); err == nil {
				return nil
			}
		}
		return err
	})
	return app, a, err
}
