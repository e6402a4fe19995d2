package portal_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// recordingEffects writes the workflow's audit entries and notifications
// into test buckets inside the transition's transaction, as
// enrollment/workflow_test.go does.
type recordingEffects struct{}

func (recordingEffects) Audit(tx *bolt.Tx, a enrollment.AuditEntry) error {
	return appendJSON(tx, "test_audit", a)
}

func (recordingEffects) Notify(tx *bolt.Tx, n enrollment.Notification) error {
	return appendJSON(tx, "test_outbox", n)
}

func (recordingEffects) Committed() {}

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
	return b.Put(fmt.Appendf(nil, "%08d", seq), raw)
}

// notifications lists what the workflow queued, oldest first.
func (e *env) notifications() []enrollment.Notification {
	e.t.Helper()
	var out []enrollment.Notification
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("test_outbox"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var n enrollment.Notification
			out = append(out, n)
			return json.Unmarshal(v, &out[len(out)-1])
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// activationLink is the last activation link emailed to addr.
func (e *env) activationLink(addr string) string {
	e.t.Helper()
	link := ""
	for _, n := range e.notifications() {
		if n.Kind == "approved" && n.To == addr {
			link, _ = n.Data["ActivationURL"].(string)
		}
	}
	if link == "" {
		e.t.Fatalf("no activation link emailed to %s", addr)
	}
	return link
}

// staff are a CS and an RA officer, recorded in the store.
type staff struct{ cs, ra enrollment.Actor }

func (e *env) staff() staff {
	e.t.Helper()
	var s staff
	for _, o := range []struct {
		name, role string
		actor      *enrollment.Actor
	}{{"Citra CS", store.RoleCS, &s.cs}, {"Rudi RA", store.RoleRA, &s.ra}} {
		rec := store.Officer{Fingerprint: fmt.Sprintf("%x", sha256.Sum256([]byte(o.name))), Name: o.name, Role: o.role,
			Status: store.OfficerActive, Created: time.Now()}
		if err := e.db.Update(func(tx *bolt.Tx) error { return store.AddOfficer(tx, rec) }); err != nil {
			e.t.Fatal(err)
		}
		*o.actor = enrollment.Officer(rec)
	}
	return s
}

// must fails the test on a workflow error.
func (e *env) must(_ store.Application, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// signedIn registers a through the wizard with a fresh client, logs in and
// returns the client and the applicant id.
func (e *env) signedIn(a applicant) (*browser, string) {
	e.t.Helper()
	b := e.browser()
	if pg := b.register(a); pg.path != "/register/selesai" {
		e.t.Fatalf("registration of %s: %s", a.username, pg.path)
	}
	return b, b.login(a)
}

func (b *browser) login(a applicant) string {
	b.t.Helper()
	b.get("/login")
	if pg := b.post("/login", url.Values{"login": {a.username}, "password": {a.password}}); pg.path != "/account" {
		b.t.Fatalf("login of %s: %s", a.username, pg.path)
	}
	rec, err := b.e.db.ApplicantByIndex("username", []byte(a.username))
	if err != nil {
		b.t.Fatal(err)
	}
	return rec.ID
}

func (e *env) app(id string) store.Application {
	e.t.Helper()
	app, err := e.db.ApplicationOf(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return app
}

// snapshot is the application record and the number of audit entries
// and notifications, to check that a refusal changed nothing.
func (e *env) snapshot(id string) string {
	var raw []byte
	e.db.View(func(tx *bolt.Tx) error {
		raw = append(raw, tx.Bucket([]byte("applications")).Get([]byte(id))...)
		for _, name := range []string{"test_audit", "test_outbox"} {
			if b := tx.Bucket([]byte(name)); b != nil {
				raw = fmt.Appendf(raw, "|%s=%d", name, b.Stats().KeyN)
			}
		}
		return nil
	})
	return string(raw)
}

// record is the stored application of applicant id.
func (e *env) record(id string) string {
	var raw []byte
	e.db.View(func(tx *bolt.Tx) error {
		raw = append(raw, tx.Bucket([]byte("applications")).Get([]byte(id))...)
		return nil
	})
	return string(raw)
}

// file is one file of a multipart form.
type file struct {
	field, name string
	data        []byte
}

// postFiles submits a multipart form with files, with the CSRF token of
// the last page unless noToken.
func (b *browser) postFiles(path string, form url.Values, noToken bool, files ...file) page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if !noToken {
		_ = mw.WriteField("csrf_token", b.token)
	}
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	for _, f := range files {
		fw, err := mw.CreateFormFile(f.field, f.name)
		if err != nil {
			b.t.Fatal(err)
		}
		_, _ = fw.Write(f.data)
	}
	_ = mw.Close()
	return b.postRaw(path, mw.FormDataContentType(), &buf, nil)
}

// getURL follows a full link, as from an email.
func (b *browser) getURL(link string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, link, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}
