package enrollment_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// recordingEffects writes audit entries and notifications into test
// buckets inside the transition's transaction, so a rolled-back transition
// leaves none. failAudit makes the audit write fail.
// Entries also go through a real audit log (a software key signs its
// checkpoints), so its rules on details apply here as in the product.
type recordingEffects struct {
	failAudit       bool
	failAuditAction string // fail only this action
	commits         int
	log             *audit.Log
}

func (e *recordingEffects) Audit(tx *bolt.Tx, a enrollment.AuditEntry) error {
	if e.failAudit || (e.failAuditAction != "" && a.Action == e.failAuditAction) {
		return errors.New("audit log unavailable")
	}
	if e.log == nil {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		l, err := audit.New(audit.Config{Signer: key})
		if err != nil {
			return err
		}
		e.log = l
	}
	if err := e.log.Init(tx); err != nil {
		return err
	}
	if _, err := e.log.Append(tx, audit.Entry{Actor: a.Actor, Action: a.Action, Object: a.Object, Details: a.Details}); err != nil {
		return err
	}
	return appendJSON(tx, "test_audit", a)
}

func (e *recordingEffects) Notify(tx *bolt.Tx, n enrollment.Notification) error {
	return appendJSON(tx, "test_outbox", n)
}

func (e *recordingEffects) Committed() { e.commits++ }

func appendJSON(tx *bolt.Tx, bucket string, v any) error {
	b, err := tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return err
	}
	seq, _ := b.NextSequence()
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(fmt.Sprintf("%08d", seq)), raw)
}

func readJSON[T any](t *testing.T, db *store.DB, bucket string) []T {
	t.Helper()
	var out []T
	db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var x T
			if err := json.Unmarshal(v, &x); err != nil {
				t.Fatal(err)
			}
			out = append(out, x)
			return nil
		})
	})
	return out
}

type flow struct {
	t       *testing.T
	s       *enrollment.Service
	db      *store.DB
	effects *recordingEffects
	ctx     context.Context
}

func newFlow(t *testing.T, approvals int) *flow {
	s, db, _ := newService(t)
	e := &recordingEffects{}
	err := s.WithWorkflow(enrollment.WorkflowConfig{Effects: e, PortalURL: "http://127.0.0.1:8080", RAApprovals: approvals,
		Invoice: enrollment.InvoiceConfig{Amount: 150000, BankName: "Bank Contoh", AccountNumber: "1234567890", AccountName: "PT PSrE Contoh", VirtualAccountPrefix: "8808"}})
	if err != nil {
		t.Fatal(err)
	}
	return &flow{t: t, s: s, db: db, effects: e, ctx: context.Background()}
}

// officer records an officer and returns its actor.
func (f *flow) officer(name, role, email string) enrollment.Actor {
	f.t.Helper()
	eh, nh, err := f.s.IdentityHashes(email, "")
	if err != nil {
		f.t.Fatal(err)
	}
	fp := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))
	o := store.Officer{Fingerprint: fp, Name: name, Role: role, Status: store.OfficerActive, EmailHash: eh, NIKHash: nh, Created: time.Now()}
	if err := f.db.Update(func(tx *bolt.Tx) error { return store.AddOfficer(tx, o) }); err != nil {
		f.t.Fatal(err)
	}
	return enrollment.Officer(o)
}

func (f *flow) register(r enrollment.Registration) string {
	f.t.Helper()
	id, err := f.s.Register(f.ctx, r)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *flow) must(app store.Application, err error) store.Application {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
	return app
}

// toReview takes a fresh applicant to ra_review.
func (f *flow) toReview(id string, cs enrollment.Actor) {
	f.t.Helper()
	f.must(f.s.RequestVerification(f.ctx, id))
	f.must(f.s.IssueInvoice(f.ctx, cs, id))
	f.must(f.s.SubmitPaymentProof(f.ctx, id, []byte("%PDF-1.4 receipt"), "application/pdf"))
	f.must(f.s.ConfirmPayment(f.ctx, cs, id))
}

func TestWorkflowToApproval(t *testing.T) {
	f := newFlow(t, 1)
	cs, ra := f.officer("Citra CS", store.RoleCS, "citra@psre.example"), f.officer("Rudi RA", store.RoleRA, "rudi@psre.example")
	id := f.register(budi())
	f.toReview(id, cs)
	app := f.must(f.s.Approve(f.ctx, ra, id))
	if app.State != enrollment.StateActivationPending || app.Activation == nil || len(app.Activation.TokenHash) != 32 {
		t.Fatalf("after approval: %+v", app)
	}
	if app.Invoice == nil || app.Invoice.Amount != 150000 || len(app.Invoice.VirtualAccount) != 14 {
		t.Fatalf("invoice %+v", app.Invoice)
	}
	notes := readJSON[enrollment.Notification](t, f.db, "test_outbox")
	var kinds []string
	for _, n := range notes {
		kinds = append(kinds, n.Kind)
	}
	if fmt.Sprint(kinds) != "[request_received payment_instructions payment_confirmed approved]" {
		t.Fatalf("notifications %v", kinds)
	}
	link, _ := notes[3].Data["ActivationURL"].(string)
	token := link[len("http://127.0.0.1:8080/aktivasi?token="):]
	if h := sha256.Sum256([]byte(token)); !bytes.Equal(h[:], app.Activation.TokenHash) {
		t.Fatalf("activation link %q does not match the stored hash", link)
	}
	audit := readJSON[enrollment.AuditEntry](t, f.db, "test_audit")
	if len(audit) != 5 || audit[4].Action != "application.approve" || audit[4].Actor != "officer:ra:Rudi RA" || audit[4].Details["to"] != "activation_pending" {
		t.Fatalf("audit %+v", audit)
	}
	for _, e := range audit {
		raw, _ := json.Marshal(e)
		if bytes.Contains(raw, []byte("3171011208900001")) || bytes.Contains(raw, []byte("budi@example")) {
			t.Fatalf("personal data in audit entry %s", raw)
		}
	}
	if f.effects.commits != 5 {
		t.Fatalf("Committed called %d times", f.effects.commits)
	}
}

// snapshot is the application record and the counts of side effects, to
// check that a refused transition changed nothing.
func (f *flow) snapshot(id string) string {
	var raw []byte
	f.db.View(func(tx *bolt.Tx) error {
		raw = append(raw, tx.Bucket([]byte("applications")).Get([]byte(id))...)
		for _, b := range []string{"test_audit", "test_outbox"} {
			if bk := tx.Bucket([]byte(b)); bk != nil {
				raw = fmt.Appendf(raw, "|%s=%d", b, bk.Stats().KeyN)
			}
		}
		return nil
	})
	return string(raw)
}

func TestWorkflowRefusals(t *testing.T) {
	f := newFlow(t, 1)
	cs, ra := f.officer("Citra CS", store.RoleCS, ""), f.officer("Rudi RA", store.RoleRA, "")
	auditor := f.officer("Ani Auditor", store.RoleAuditor, "")
	disabled := f.officer("Dedi RA", store.RoleRA, "")
	f.db.Update(func(tx *bolt.Tx) error {
		o, _ := store.GetOfficer(tx, disabled.ID)
		o.Status = store.OfficerDisabled
		return store.PutOfficer(tx, o)
	})
	self := f.officer("Budi Sendiri", store.RoleCS, "budi@example.co.id")
	a := f.register(budi())
	other := budi()
	other.NIK, other.Username, other.Email, other.Phone = "3171015508900002", "siti.aminah", "siti@example.co.id", "081298765432"
	other.Name, other.BirthDate = "Siti Aminah", time.Date(1990, 8, 15, 0, 0, 0, 0, time.UTC)
	b := f.register(other)
	f.must(f.s.RequestVerification(f.ctx, b))

	var stateErr *enrollment.StateError
	var segErr *enrollment.SegregationError
	isState := func(err error) bool { return errors.As(err, &stateErr) }
	isForbidden := func(err error) bool { return errors.Is(err, enrollment.ErrForbidden) }
	isSegregation := func(err error) bool { return errors.As(err, &segErr) }
	cases := []struct {
		name string
		app  string
		do   func() (store.Application, error)
		want func(error) bool
	}{
		{"RA approves before payment", b, func() (store.Application, error) { return f.s.Approve(f.ctx, ra, b) }, isState},
		{"CS confirms before proof", b, func() (store.Application, error) { return f.s.ConfirmPayment(f.ctx, cs, b) }, isState},
		{"applicant resubmits when not rejected", b, func() (store.Application, error) {
			return f.s.Resubmit(f.ctx, b, enrollment.Corrections{Name: "Siti"})
		}, isState},
		{"applicant asks twice", b, func() (store.Application, error) { return f.s.RequestVerification(f.ctx, b) }, isState},
		{"RA issues an invoice", b, func() (store.Application, error) { return f.s.IssueInvoice(f.ctx, ra, b) }, isForbidden},
		{"auditor issues an invoice", b, func() (store.Application, error) { return f.s.IssueInvoice(f.ctx, auditor, b) }, isForbidden},
		{"applicant issues an invoice", b, func() (store.Application, error) {
			return f.s.IssueInvoice(f.ctx, enrollment.Applicant(b), b)
		}, isForbidden},
		{"applicant B requests for A", a, func() (store.Application, error) {
			return f.s.IssueInvoice(f.ctx, enrollment.Applicant(b), a)
		}, isForbidden},
		{"disabled officer", b, func() (store.Application, error) { return f.s.IssueInvoice(f.ctx, disabled, b) }, isForbidden},
		{"reject without reason", b, func() (store.Application, error) { return f.s.RejectPayment(f.ctx, cs, b, "  ") }, func(err error) bool {
			return errors.Is(err, enrollment.ErrReasonRequired)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.snapshot(c.app)
			_, err := c.do()
			if !c.want(err) {
				t.Fatalf("got %v", err)
			}
			if err != nil && f.snapshot(c.app) != before {
				t.Fatal("a refused transition changed the store")
			}
		})
	}
	// An officer never acts on their own application (same email).
	before := f.snapshot(a)
	if _, err := f.s.IssueInvoice(f.ctx, self, a); !isSegregation(err) {
		t.Fatalf("officer on own application: %v", err)
	}
	if f.snapshot(a) != before {
		t.Fatal("refused transition changed the store")
	}
	// A failing audit write rolls the whole transition back.
	f.effects.failAudit = true
	before = f.snapshot(a)
	if _, err := f.s.IssueInvoice(f.ctx, cs, a); err == nil {
		t.Fatal("transition succeeded without its audit record")
	}
	if f.snapshot(a) != before {
		t.Fatal("a transition without audit record changed the store")
	}
}

func TestWorkflowSegregationAndFourEyes(t *testing.T) {
	f := newFlow(t, 2)
	cs := f.officer("Citra CS", store.RoleCS, "citra@psre.example")
	// Citra also holds an RA certificate under another name: same person.
	citraRA := f.officer("Citra RA", store.RoleRA, "citra@psre.example")
	ra1, ra2 := f.officer("Rudi RA", store.RoleRA, ""), f.officer("Rina RA", store.RoleRA, "")
	id := f.register(budi())
	f.toReview(id, cs)
	var segErr *enrollment.SegregationError
	if _, err := f.s.Approve(f.ctx, citraRA, id); !errors.As(err, &segErr) {
		t.Fatalf("the payment confirmer approved: %v", err)
	}
	app := f.must(f.s.Approve(f.ctx, ra1, id))
	if app.State != enrollment.StateRAReview || len(app.Approvals) != 1 {
		t.Fatalf("first of two approvals: %+v", app)
	}
	if _, err := f.s.Approve(f.ctx, ra1, id); !errors.As(err, &segErr) {
		t.Fatalf("second approval by the same officer: %v", err)
	}
	if app = f.must(f.s.Approve(f.ctx, ra2, id)); app.State != enrollment.StateActivationPending {
		t.Fatalf("after two approvals: %s", app.State)
	}
}

func TestWorkflowCorrection(t *testing.T) {
	f := newFlow(t, 1)
	cs, ra := f.officer("Citra CS", store.RoleCS, ""), f.officer("Rudi RA", store.RoleRA, "")
	id := f.register(budi())
	f.toReview(id, cs)
	if _, err := f.s.Reject(f.ctx, ra, id, "", []string{"selfie"}, true); !errors.Is(err, enrollment.ErrReasonRequired) {
		t.Fatalf("rejection without reason: %v", err)
	}
	if _, err := f.s.Reject(f.ctx, ra, id, "wajah tidak jelas", []string{"password"}, true); err == nil {
		t.Fatal("rejection naming a field that cannot be corrected")
	}
	app := f.must(f.s.Reject(f.ctx, ra, id, "Selfie buram dan NIK salah ketik", []string{"selfie", "nik"}, true))
	if app.State != enrollment.StateRejectedCorrectable || fmt.Sprint(app.Rejection.Fields) != "[nik selfie]" {
		t.Fatalf("after correctable rejection: %+v", app.Rejection)
	}
	for _, c := range []enrollment.Corrections{
		{Selfie: []byte("new selfie")},                                          // nik missing
		{Selfie: []byte("new selfie"), NIK: "3171011208900009", Name: "Budi S"}, // name not asked
	} {
		if _, err := f.s.Resubmit(f.ctx, id, c); !errors.Is(err, enrollment.ErrCorrectionFields) {
			t.Fatalf("corrections %v: %v", c, err)
		}
	}
	var fe *enrollment.FieldError
	if _, err := f.s.Resubmit(f.ctx, id, enrollment.Corrections{Selfie: []byte("new"), NIK: "3171011208910009"}); !errors.As(err, &fe) || fe.Field != "nik" {
		t.Fatalf("NIK that disagrees with the birth date: %v", err)
	}
	app = f.must(f.s.Resubmit(f.ctx, id, enrollment.Corrections{Selfie: []byte("new selfie"), NIK: "3171011208900009"}))
	if app.State != enrollment.StateRAReview {
		t.Fatalf("after resubmission: %s", app.State)
	}
	a, _ := f.db.Applicant(id)
	if nik, _ := f.s.Personal(a, "nik"); string(nik) != "3171011208900009" {
		t.Fatalf("corrected NIK not stored: %q", nik)
	}
	if selfie, _ := f.s.Personal(a, "selfie"); string(selfie) != "new selfie" {
		t.Fatalf("corrected selfie not stored")
	}
	// The old NIK is free again; the new one is taken.
	r := budi()
	r.Username, r.Email, r.Phone = "other", "other@example.co.id", "081311112222"
	if _, err := f.s.Register(f.ctx, r); err != nil {
		t.Fatalf("the old NIK should be free: %v", err)
	}
	r.NIK, r.Username, r.Email, r.Phone = "3171011208900009", "third", "third@example.co.id", "081311113333"
	var te *store.TakenError
	if _, err := f.s.Register(f.ctx, r); !errors.As(err, &te) || te.Field != "nik" {
		t.Fatalf("the corrected NIK should be taken: %v", err)
	}
	app = f.must(f.s.Reject(f.ctx, ra, id, "Dokumen palsu", nil, false))
	if app.State != enrollment.StateRejected {
		t.Fatalf("final rejection: %s", app.State)
	}
	var se *enrollment.StateError
	if _, err := f.s.Approve(f.ctx, ra, id); !errors.As(err, &se) {
		t.Fatalf("approval after final rejection: %v", err)
	}
}

func TestReviewFileDuplicates(t *testing.T) {
	f := newFlow(t, 1)
	cs, ra := f.officer("Citra CS", store.RoleCS, ""), f.officer("Rudi RA", store.RoleRA, "")
	id := f.register(budi())
	twin := budi() // same name, birth date and KTP photo; other NIK and account
	twin.NIK, twin.Username, twin.Email, twin.Phone = "3273011208900003", "budi2", "budi2@example.co.id", "081355556666"
	twinID := f.register(twin)
	f.toReview(id, cs)
	file, err := f.s.ReviewFile(f.ctx, ra, id)
	if err != nil {
		t.Fatal(err)
	}
	if file.NIK != "3171011208900001" || file.FromNIK.Province != "DKI Jakarta" || file.FromNIK.Female || file.FromNIK.Problem != "" {
		t.Fatalf("review file %+v", file.FromNIK)
	}
	if len(file.Duplicates) != 2 || file.Duplicates[0].ApplicationID != twinID {
		t.Fatalf("duplicates %+v", file.Duplicates)
	}
	if _, err := f.s.ReviewFile(f.ctx, cs, id); !errors.Is(err, enrollment.ErrForbidden) {
		t.Fatalf("CS opened the RA file: %v", err)
	}
	img, err := f.s.ReviewImage(f.ctx, ra, id, "selfie")
	if err != nil || !bytes.Equal(img, budi().Selfie) {
		t.Fatalf("selfie: %v", err)
	}
	audit := readJSON[enrollment.AuditEntry](t, f.db, "test_audit")
	if last := audit[len(audit)-1]; last.Action != "application.open_personal_data" || last.Details["what"] != "selfie" {
		t.Fatalf("opening personal data not audited: %+v", last)
	}
}
