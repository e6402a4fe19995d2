package portal_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// approved registers a, logs in, takes the application to
// activation_pending and returns the client, the id and the link's token.
func (e *env) approved(a applicant, s staff) (*browser, string, string) {
	e.t.Helper()
	b, id := e.signedIn(a)
	e.approve(id, s)
	_, token, ok := strings.Cut(e.activationLink(a.email), "/aktivasi?token=")
	if !ok {
		e.t.Fatal("no token in the activation link")
	}
	return b, id, token
}

// start opens the link and presses "Aktivasi".
func (b *browser) start(token string) page {
	b.t.Helper()
	b.get("/aktivasi?token=" + token)
	return b.post("/aktivasi", url.Values{"token": {token}})
}

// code is the last one-time code sent by kind ("otp_email", "otp_sms") to
// address to, or "".
func (e *env) code(kind, to string) string {
	e.t.Helper()
	code := ""
	for _, n := range e.notifications() {
		if n.Kind == kind && n.To == to {
			code, _ = n.Data["Code"].(string)
		}
	}
	return code
}

// count is the number of notifications of kind sent to to.
func (e *env) count(kind, to string) int {
	n := 0
	for _, x := range e.notifications() {
		if x.Kind == kind && x.To == to {
			n++
		}
	}
	return n
}

// otherCode is a six-digit code that is not code.
func otherCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// phoneForm is the form of "Proses Kode OTP" with both consents ticked.
func phoneForm(code string) url.Values {
	return url.Values{"code": {code}, "consent_issuance": {"on"}, "consent_ownership": {"on"},
		"issuance_version": {consentsInForce.Issuance}, "ownership_version": {consentsInForce.Ownership}}
}

// codes is the stored state of applicant id's one-time codes (hashes,
// attempts, times), to check that a refusal consumed nothing.
func (e *env) codes(id string) string {
	var out []string
	e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("otps"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if strings.HasSuffix(string(k), "\x00"+id) {
				out = append(out, string(k)+"="+string(v))
			}
			return nil
		})
	})
	return strings.Join(out, "|")
}

// ageCode moves the times of applicant id's code for purpose d into the
// past, as if d had passed on the service's clock (which tests outside
// package enrollment cannot set).
func (e *env) ageCode(id, purpose string, d time.Duration) {
	e.t.Helper()
	err := e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("otps"))
		k := []byte(purpose + "\x00" + id)
		var rec map[string]any
		if err := json.Unmarshal(b.Get(k), &rec); err != nil {
			return err
		}
		shift := func(v any) any {
			t, err := time.Parse(time.RFC3339Nano, v.(string))
			if err != nil {
				e.t.Fatal(err)
			}
			return t.Add(-d).Format(time.RFC3339Nano)
		}
		rec["expires"] = shift(rec["expires"])
		sent, _ := rec["sent"].([]any)
		if len(sent) == 0 {
			e.t.Fatal("the code record has no send times")
		}
		for i := range sent {
			sent[i] = shift(sent[i])
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return b.Put(k, raw)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// toPhone takes an approved applicant through the link and the email code.
func (e *env) toPhone(b *browser, a applicant, token string) {
	e.t.Helper()
	if pg := b.start(token); pg.path != "/aktivasi/email" {
		e.t.Fatalf("Aktivasi: landed on %s (%d)", pg.path, pg.status)
	}
	if pg := b.post("/aktivasi/email", url.Values{"code": {e.code("otp_email", a.email)}}); pg.path != "/aktivasi/telepon" {
		e.t.Fatalf("email code: landed on %s (%d)\n%s", pg.path, pg.status, pg.body)
	}
}

// issued takes an approved applicant all the way to an issued certificate.
func (e *env) issued(b *browser, a applicant, token, phone string) {
	e.t.Helper()
	e.toPhone(b, a, token)
	if pg := b.post("/aktivasi/telepon", phoneForm(e.code("otp_sms", phone))); pg.path != "/account/profile" {
		e.t.Fatalf("phone code: landed on %s (%d)\n%s", pg.path, pg.status, pg.body)
	}
}
