package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/console"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/hsm/hsmtest"
	"github.com/psre/appliance/store"
)

// effects writes the workflow's audit entries to the real audit log and
// its notifications to a test bucket, inside the transition's transaction.
type effects struct{ log *audit.Log }

func (e *effects) Audit(tx *bolt.Tx, a enrollment.AuditEntry) error {
	_, err := e.log.Append(tx, audit.Entry{Actor: a.Actor, Action: a.Action, Object: a.Object, Details: a.Details})
	return err
}

func (e *effects) Notify(tx *bolt.Tx, n enrollment.Notification) error {
	b, err := tx.CreateBucketIfNotExists([]byte("test_outbox"))
	if err != nil {
		return err
	}
	seq, _ := b.NextSequence()
	raw, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return b.Put(fmt.Appendf(nil, "%08d", seq), raw)
}

func (e *effects) Committed() {}

// syncBuffer collects the console's log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a console over a real service: bbolt file, SoftHSM KEK, audit
// log, mTLS listener.
type env struct {
	t       *testing.T
	ctx     context.Context
	svc     *enrollment.Service
	db      *store.DB
	admin   *testCA
	foreign *testCA // an impostor with the admin CA's name
	srv     *httptest.Server
	reg     *prometheus.Registry
	logs    *syncBuffer
	n       int // applicants registered
}

func newEnv(t *testing.T, approvals int) *env {
	t.Helper()
	tok := hsmtest.New(t).Token(t, "ca")
	ctx := context.Background()
	uri, err := tok.GenerateSecretKey(ctx, "kek")
	if err != nil {
		t.Fatal(err)
	}
	kek, err := tok.KEK(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "appliance.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc, err := enrollment.NewService(db, kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	auditKey := newKey(t)
	alog, err := audit.New(audit.Config{Signer: auditKey, Every: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(alog.Init); err != nil {
		t.Fatal(err)
	}
	err = svc.WithWorkflow(enrollment.WorkflowConfig{Effects: &effects{log: alog}, PortalURL: "http://127.0.0.1:8080", RAApprovals: approvals,
		Invoice: enrollment.InvoiceConfig{Amount: 150000, BankName: "Bank Contoh", AccountNumber: "1234567890", AccountName: "PT PSrE Contoh", VirtualAccountPrefix: "8808"}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, svc: svc, db: db, admin: newCA(t, "Admin CA"), foreign: newCA(t, "Admin CA"),
		reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	csrfKey := make([]byte, 32)
	rand.Read(csrfKey)
	c, err := console.New(console.Config{Service: svc, DB: db, AdminCA: e.admin.cert, AuditKey: &auditKey.PublicKey, AuditEvery: 5,
		RAApprovals: approvals, CSRFKey: csrfKey, Logger: slog.New(slog.NewTextHandler(e.logs, nil)), Registerer: e.reg,
		Location: time.FixedZone("WIB", 7*3600)})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(c.Handler())
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes
	serverCert, _ := e.admin.issue(t, "127.0.0.1", true)
	e.srv.TLS = console.TLSConfig(serverCert, e.admin.cert)
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	return e
}

// officer records an officer with a fresh admin-CA client certificate and
// returns its client. email may be empty.
func (e *env) officer(name, role, email string) *client {
	e.t.Helper()
	tc, cert := e.admin.issue(e.t, name, false)
	record(e.t, e.db, cert)
	eh, _, err := e.svc.IdentityHashes(email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Raw)
	o := store.Officer{Fingerprint: hex.EncodeToString(sum[:]), Name: name, Role: role, Status: store.OfficerActive,
		Serial: cert.SerialNumber.Text(16), EmailHash: eh, Created: time.Now()}
	if err := e.db.Update(func(tx *bolt.Tx) error { return store.AddOfficer(tx, o) }); err != nil {
		e.t.Fatal(err)
	}
	c := e.client(&tc)
	c.officer, c.cert = o, cert
	return c
}

// applicant registers applicant number n (a distinct person unless twin
// is set: same name, birth date and KTP photo as number 1) and returns the
// application id.
func (e *env) applicant(email string, twin bool) string {
	e.t.Helper()
	e.n++
	n := e.n
	r := enrollment.Registration{
		NIK: fmt.Sprintf("3171011208900%03d", n), Name: fmt.Sprintf("Pemohon Nomor %c", 'A'+n),
		BirthDate: time.Date(1990, 8, 12, 0, 0, 0, 0, time.UTC),
		Username:  fmt.Sprintf("pemohon%d", n), Password: "kuda-lari-di-pantai", Email: email,
		Phone:    fmt.Sprintf("0812345%05d", n),
		KTPPhoto: picture(e.t, n, true), Selfie: picture(e.t, 100+n, false), Specimen: picture(e.t, 200+n, true),
		ConsentVersion: "privacy-v1",
	}
	if email == "" {
		r.Email = fmt.Sprintf("pemohon%d@example.co.id", n)
	}
	if twin {
		r.Name, r.KTPPhoto = "Pemohon Nomor B", picture(e.t, 1, true)
	}
	id, err := e.svc.Register(e.ctx, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) must(app store.Application, err error) store.Application {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	return app
}

// toReview takes application id to ra_review through the Service, with
// cs as the CS officer.
func (e *env) toReview(id string, cs *client) {
	e.t.Helper()
	e.must(e.svc.RequestVerification(e.ctx, id))
	e.must(e.svc.IssueInvoice(e.ctx, cs.actor(), id))
	e.must(e.svc.SubmitPaymentProof(e.ctx, id, []byte("%PDF-1.4 bukti"), "application/pdf"))
	e.must(e.svc.ConfirmPayment(e.ctx, cs.actor(), id))
}

// app reads application id.
func (e *env) app(id string) store.Application {
	e.t.Helper()
	app, err := e.db.ApplicationOf(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return app
}

// snapshot is application id's record and the counts of transition
// audit records and notifications, to check that a refused request changed
// nothing (opening personal data is audited, so those records are left out).
func (e *env) snapshot(id string) string {
	var s string
	e.db.View(func(tx *bolt.Tx) error {
		s = string(tx.Bucket([]byte("applications")).Get([]byte(id)))
		n := 0
		tx.Bucket([]byte("audit")).ForEach(func(_, v []byte) error {
			var r audit.Record
			if json.Unmarshal(v, &r) == nil && r.Action != "application.open_personal_data" {
				n++
			}
			return nil
		})
		s += fmt.Sprintf("|transitions=%d", n)
		if b := tx.Bucket([]byte("test_outbox")); b != nil {
			s += fmt.Sprintf("|notifications=%d", b.Stats().KeyN)
		}
		return nil
	})
	return s
}
