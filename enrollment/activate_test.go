package enrollment_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/otp"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	"github.com/psre/appliance/store"
)

// tokenKeys keeps subscriber keys on a real SoftHSM token and counts the
// keys it generated.
type tokenKeys struct {
	tok       *hsm.Token
	mu        sync.Mutex
	generated int
}

func (k *tokenKeys) GenerateOrFind(ctx context.Context, label string) (crypto.PublicKey, error) {
	s, err := k.tok.Signer(ctx, hsm.URI{Token: k.tok.Name(), Object: label})
	if errors.Is(err, hsm.ErrKeyNotFound) {
		k.mu.Lock()
		k.generated++
		k.mu.Unlock()
		s, _, err = k.tok.GenerateKeyPair(ctx, label, hsm.ECDSAP256)
	}
	if err != nil {
		return nil, err
	}
	return s.Public(), nil
}

func (k *tokenKeys) Destroy(ctx context.Context, label string) error { return nil }

// softCA stands in for the issuing CA (the HSM-backed one is tested in
// cmd/appliance): it records what it issued and can fail on demand.
type softCA struct {
	key    *ecdsa.PrivateKey
	cert   *x509.Certificate
	mu     sync.Mutex
	issued map[string][]byte // requester -> DER
	count  int
	fail   error // the next IssueIndividual fails with it
}

func newSoftCA(t *testing.T) *softCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Issuing CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &softCA{key: key, cert: cert, issued: map[string][]byte{}}
}

func (c *softCA) IssueIndividual(_ context.Context, r enrollment.IndividualRequest) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail; err != nil {
		c.fail = nil
		return nil, err
	}
	c.count++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(1000 + c.count)), Subject: pkix.Name{CommonName: r.Name, SerialNumber: r.SubscriberID},
		EmailAddresses: []string{r.Email}, NotBefore: time.Now(), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, r.PublicKey, c.key)
	if err == nil {
		c.issued[r.Requester] = der
	}
	return der, err
}

func (c *softCA) IssuedFor(_ context.Context, requester string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	der, ok := c.issued[requester]
	return der, ok, nil
}

func (c *softCA) Revoke(context.Context, string, int, string) error { return nil }
func (c *softCA) Chain() [][]byte                                   { return [][]byte{c.cert.Raw} }

var consents = enrollment.Consents{Issuance: "persetujuan-v1", Ownership: "perjanjian-v1"}

type activationFlow struct {
	*flow
	keys *tokenKeys
	ca   *softCA
}

// newActivationFlow approves budi and returns the flow with his id.
func newActivationFlow(t *testing.T) (*activationFlow, string) {
	f := newFlow(t, 1)
	env := hsmtest.New(t)
	k := &tokenKeys{tok: env.Token(t, "users")}
	c := newSoftCA(t)
	if err := f.s.WithActivation(enrollment.ActivationConfig{Keys: k, Authority: c, Consents: consents}); err != nil {
		t.Fatal(err)
	}
	cs, ra := f.officer("Citra CS", store.RoleCS, ""), f.officer("Rudi RA", store.RoleRA, "")
	id := f.register(budi())
	f.toReview(id, cs)
	f.must(f.s.Approve(f.ctx, ra, id))
	return &activationFlow{flow: f, keys: k, ca: c}, id
}

// lastCode is the code of the last OTP notification of kind.
func (f *activationFlow) lastCode(kind string) string {
	code := ""
	for _, n := range readJSON[enrollment.Notification](f.t, f.db, "test_outbox") {
		if n.Kind == kind {
			code, _ = n.Data["Code"].(string)
		}
	}
	if code == "" {
		f.t.Fatalf("no %s notification", kind)
	}
	return code
}

// toPhoneStep starts the activation and passes the email code.
func (f *activationFlow) toPhoneStep(id string) {
	f.t.Helper()
	f.must(f.s.StartActivation(f.ctx, id, f.activationToken("budi@example.co.id")))
	f.must(f.s.VerifyEmailCode(f.ctx, id, f.lastCode("otp_email")))
}

func TestActivationIssuesOnce(t *testing.T) {
	f, id := newActivationFlow(t)
	token := f.activationToken("budi@example.co.id")
	f.must(f.s.StartActivation(f.ctx, id, token))
	if _, err := f.s.StartActivation(f.ctx, id, token); err == nil {
		t.Fatal("the activation link worked twice")
	}
	var ce *enrollment.CodeError
	if _, err := f.s.VerifyEmailCode(f.ctx, id, "000000"); !errors.As(err, &ce) || ce.Remaining != 4 {
		t.Fatalf("wrong email code: %v", err)
	}
	app := f.must(f.s.VerifyEmailCode(f.ctx, id, f.lastCode("otp_email")))
	if app.State != enrollment.StateActivationPhoneOTP {
		t.Fatalf("after the email code: %s", app.State)
	}
	sms := f.lastCode("otp_sms")
	if _, err := f.s.CompleteActivation(f.ctx, id, sms, enrollment.Consents{Issuance: consents.Issuance}); !errors.Is(err, enrollment.ErrConsentRequired) {
		t.Fatalf("one consent missing: %v", err)
	}
	// Ten simultaneous submissions of the last step: one key, one certificate.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.s.CompleteActivation(f.ctx, id, sms, consents)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a submission failed: %v", err)
		}
	}
	app, _ = f.db.ApplicationOf(id)
	if app.State != enrollment.StateIssued || app.Certificate == nil || f.keys.generated != 1 || f.ca.count != 1 {
		t.Fatalf("state %s, %d keys, %d certificates; want issued, 1, 1", app.State, f.keys.generated, f.ca.count)
	}
	if app.Issuance.Consents["issuance"] != "persetujuan-v1" || app.Issuance.Consents["ownership"] != "perjanjian-v1" {
		t.Fatalf("consent evidence %+v", app.Issuance)
	}
	audit := readJSON[enrollment.AuditEntry](t, f.db, "test_audit")
	found := false
	for _, e := range audit {
		if e.Action == "activation.phone_code" && e.Details["consent_issuance"] == "persetujuan-v1" && e.Details["code_channels"] == "email,sms" {
			found = true
		}
	}
	if !found {
		t.Fatal("the consents and code channels are not in the audit log")
	}
	notes := readJSON[enrollment.Notification](t, f.db, "test_outbox")
	if last := notes[len(notes)-1]; last.Kind != "certificate_issued" || len(last.Attachments) != 1 {
		t.Fatalf("last notification %s with %d attachments", last.Kind, len(last.Attachments))
	}
}

func TestActivationResumes(t *testing.T) {
	cases := []struct {
		name string
		// interrupt breaks the run after the key (the CA fails) or after
		// the certificate (the final transition's audit write fails).
		interrupt func(f *activationFlow)
		keys      int
	}{
		{"after the key", func(f *activationFlow) { f.ca.fail = errors.New("HSM of the CA unplugged") }, 1},
		{"after the certificate", func(f *activationFlow) { f.effects.failAuditAction = "activation.issued" }, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, id := newActivationFlow(t)
			f.toPhoneStep(id)
			sms := f.lastCode("otp_sms")
			c.interrupt(f)
			if _, err := f.s.CompleteActivation(f.ctx, id, sms, consents); err == nil {
				t.Fatal("the interrupted activation reported success")
			}
			f.effects.failAuditAction = ""
			app, _ := f.db.ApplicationOf(id)
			if app.State != enrollment.StateActivationPhoneOTP || app.Issuance == nil {
				t.Fatalf("after the interruption: %s %+v", app.State, app.Issuance)
			}
			n, err := f.s.ResumeActivations(f.ctx)
			if err != nil || n != 1 {
				t.Fatalf("resume: %d, %v", n, err)
			}
			app, _ = f.db.ApplicationOf(id)
			if app.State != enrollment.StateIssued || f.keys.generated != 1 || f.ca.count != 1 {
				t.Fatalf("after resuming: %s, %d keys, %d certificates", app.State, f.keys.generated, f.ca.count)
			}
		})
	}
}

func TestActivationCodeRefusals(t *testing.T) {
	f, id := newActivationFlow(t)
	now := time.Now()
	enrollment.SetClock(f.s, func() time.Time { return now })
	f.must(f.s.StartActivation(f.ctx, id, f.activationToken("budi@example.co.id")))
	code := f.lastCode("otp_email")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := 0; i < 4; i++ {
		if _, err := f.s.VerifyEmailCode(f.ctx, id, wrong); !errors.Is(err, otp.ErrWrong) {
			t.Fatalf("wrong try %d: %v", i+1, err)
		}
	}
	if _, err := f.s.VerifyEmailCode(f.ctx, id, wrong); !errors.Is(err, otp.ErrDead) {
		t.Fatalf("fifth wrong try: %v", err)
	}
	if _, err := f.s.VerifyEmailCode(f.ctx, id, code); !errors.Is(err, otp.ErrDead) {
		t.Fatalf("the right code after five wrong ones: %v", err)
	}
	var te *otp.ThrottledError
	if _, err := f.s.ResendCode(f.ctx, id); !errors.As(err, &te) {
		t.Fatalf("resend within a minute: %v", err)
	}
	now = now.Add(time.Minute)
	f.must(f.s.ResendCode(f.ctx, id))
	code = f.lastCode("otp_email")
	now = now.Add(5 * time.Minute)
	if _, err := f.s.VerifyEmailCode(f.ctx, id, code); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("a code after 5 minutes: %v", err)
	}
	app, _ := f.db.ApplicationOf(id)
	if app.State != enrollment.StateActivationEmailOTP {
		t.Fatalf("refused codes changed the state to %s", app.State)
	}
	var failures int
	for _, e := range readJSON[enrollment.AuditEntry](t, f.db, "test_audit") {
		if e.Action == "activation.email_code.failed" {
			failures++
		}
	}
	// Five wrong codes and the right one refused after them.
	if failures != 6 {
		t.Fatalf("%d failed code attempts audited, want 6", failures)
	}
}
