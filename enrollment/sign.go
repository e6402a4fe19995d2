package enrollment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/store"
)

// DocumentSigner signs a PDF with a subscriber's key in the HSM, with a
// visible signature and a timestamp from the appliance's TSA (cmd wires
// the signing package, the users token and the TSA behind it).
type DocumentSigner interface {
	SignPDF(ctx context.Context, r SignRequest) (signed []byte, timestampSerial string, err error)
}

// SignRequest is one signature to make.
type SignRequest struct {
	PDF         []byte
	KeyLabel    string // the subscriber's key on the users token
	Certificate []byte // the subscriber's certificate, DER
	Name        string // shown in the visible signature
	Specimen    []byte // the subscriber's signature specimen (PNG)
	Page        int    // 1-based
	Rect        [4]float64
	Time        time.Time
}

// Placement is where the visible signature goes.
type Placement struct {
	Page int
	Rect [4]float64 // lower-left x, y, upper-right x, y in PDF points
}

// Refusals of a signature.
var (
	ErrCertificateNotUsable = errors.New("the certificate is revoked or expired: it can no longer sign")
	ErrNoSigner             = errors.New("document signing is not configured")
)

// WithSigning enables document signing (seed step 21). Call it after
// WithActivation.
func (s *Service) WithSigning(signer DocumentSigner) error {
	if s.act == nil || signer == nil {
		return errors.New("signing: needs activation and a signer")
	}
	s.signer = signer
	return nil
}

// documentLabel is how the SMS names a document: its file name and the
// first characters of its SHA-256.
func documentLabel(name string, hash []byte) string {
	if utf8.RuneCountInString(name) > 40 {
		name = string([]rune(name)[:40]) + "…"
	}
	return fmt.Sprintf("%s (SHA-256 %s…)", name, hex.EncodeToString(hash)[:12])
}

// SendSigningCode sends by SMS a code that is valid for the document of
// hash docHash only, once; the SMS names the document.
func (s *Service) SendSigningCode(ctx context.Context, applicantID string, docHash []byte, docName string) (store.Application, error) {
	if s.signer == nil {
		return store.Application{}, ErrNoSigner
	}
	if len(docHash) != sha256.Size {
		return store.Application{}, errors.New("a document hash is a SHA-256")
	}
	return s.transition(ctx, applicantID, step{
		action: "signature.code", from: []string{StateIssued}, actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, c *change) error {
			c.to = c.app.State
			if err := s.usableCertificate(c.app); err != nil {
				return err
			}
			c.details["document_sha256"] = hex.EncodeToString(docHash)
			return s.sendCode(tx, c, PurposeSign, "sms", docHash, documentLabel(docName, docHash))
		},
	})
}

// PurposeSign is the purpose of signing codes (bound to a document hash).
const PurposeSign = "sign"

// usableCertificate refuses a revoked or expired certificate.
func (s *Service) usableCertificate(app *store.Application) error {
	if app.Certificate == nil {
		return ErrCertificateNotUsable
	}
	rec, err := s.db.Certificate(app.Certificate.Serial)
	if err != nil {
		return err
	}
	if rec.Status != store.StatusGood || !s.now().Before(app.Certificate.NotAfter) || app.Revocation != nil {
		return ErrCertificateNotUsable
	}
	return nil
}

// SignDocument signs pdf for the subscriber with their password and the
// code sent for this very document. The signature is recorded (intent
// before the HSM signs, completion after) and audited.
func (s *Service) SignDocument(ctx context.Context, applicantID, password, code, docName string, pdf []byte, at Placement) ([]byte, store.Signature, error) {
	if s.signer == nil {
		return nil, store.Signature{}, ErrNoSigner
	}
	a, err := s.db.Applicant(applicantID)
	if err != nil {
		return nil, store.Signature{}, err
	}
	if err := s.checkPassword(ctx, a, password); err != nil {
		return nil, store.Signature{}, err
	}
	hash := sha256.Sum256(pdf)
	var sig store.Signature
	app, err := s.transition(ctx, applicantID, step{
		action: "signature.authorised", from: []string{StateIssued}, actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, c *change) error {
			c.to = c.app.State
			if err := s.usableCertificate(c.app); err != nil {
				return err
			}
			if err := s.checkCode(tx, c, PurposeSign, hash[:], code); err != nil || c.fail != nil {
				return err
			}
			var err error
			sig, err = store.AddSignature(tx, store.Signature{Subscriber: applicantID, DocumentHash: hex.EncodeToString(hash[:]),
				DocumentName: docName, CertSerial: c.app.Certificate.Serial, Created: s.now().UTC(), State: store.SignaturePending})
			c.details["document_sha256"] = sig.DocumentHash
			c.details["signature"] = sig.ID
			return err
		},
	})
	if err != nil {
		return nil, store.Signature{}, err
	}
	rec, err := s.db.Certificate(app.Certificate.Serial)
	if err != nil {
		return nil, store.Signature{}, err
	}
	specimen, err := s.Personal(a, "specimen")
	if err != nil {
		return nil, store.Signature{}, err
	}
	signed, tsSerial, err := s.signer.SignPDF(ctx, SignRequest{PDF: pdf, KeyLabel: app.Issuance.KeyLabel, Certificate: rec.DER,
		Name: a.Name, Specimen: specimen, Page: at.Page, Rect: at.Rect, Time: sig.Created})
	if err != nil {
		if ferr := s.db.Update(func(tx *bolt.Tx) error { return store.FailSignature(tx, sig.ID) }); ferr != nil {
			s.log.ErrorContext(ctx, "marking a failed signature", "signature", sig.ID, "error", ferr)
		}
		return nil, store.Signature{}, fmt.Errorf("sign the document: %w", err)
	}
	signedHash := sha256.Sum256(signed)
	err = s.db.Update(func(tx *bolt.Tx) error {
		if sig, err = store.CompleteSignature(tx, sig.ID, hex.EncodeToString(signedHash[:]), tsSerial, s.now().UTC()); err != nil {
			return err
		}
		return s.wf.Effects.Audit(tx, AuditEntry{Actor: Applicant(applicantID).String(), Action: "signature.created",
			Object: "application/" + applicantID, Details: map[string]string{"signature": sig.ID, "document_sha256": sig.DocumentHash,
				"serial": sig.CertSerial, "timestamp_serial": tsSerial}})
	})
	if err != nil {
		return nil, store.Signature{}, fmt.Errorf("record the signature: %w", err)
	}
	s.log.InfoContext(ctx, "document signed", "application", applicantID, "signature", sig.ID, "timestamp_serial", tsSerial)
	return signed, sig, nil
}

// checkPassword confirms the logged-in subscriber's password, with the
// login throttle counting failures against the account.
func (s *Service) checkPassword(ctx context.Context, a store.Applicant, password string) error {
	key := "account:" + hex.EncodeToString(s.index.Hash("login", a.Username))
	if wait, err := s.throttle.Reserve(key); wait > 0 {
		return &ThrottledError{Wait: wait, Locked: err != nil}
	}
	if err := s.acquireHashing(ctx); err != nil {
		s.throttle.Release(key)
		return err
	}
	ok, err := VerifyPassword(a.PasswordHash, password)
	s.releaseHashing()
	switch {
	case err != nil:
		s.throttle.Release(key)
		return err
	case !ok:
		return ErrPassword
	}
	s.throttle.Success(key)
	return nil
}

// Signatures lists the subscriber's signatures, newest first.
func (s *Service) Signatures(applicantID string) ([]store.Signature, error) {
	var list []store.Signature
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		list, err = store.SignaturesOf(tx, applicantID)
		return err
	})
	return list, err
}
