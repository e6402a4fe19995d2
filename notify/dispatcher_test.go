package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newDispatcher(t *testing.T, cfg DispatcherConfig) *Dispatcher {
	t.Helper()
	if cfg.SMS == nil {
		cfg.SMS = DevSender{}
	}
	if cfg.Email == nil {
		cfg.Email = DevSender{}
	}
	d, err := NewDispatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func runOnce(t *testing.T, d *Dispatcher, want int) {
	t.Helper()
	n, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("RunOnce sent %d, want %d", n, want)
	}
}

// The test: with the SMTP server down messages wait; when it comes
// back they are delivered once.
func TestOutboxWaitsForSMTPServerThenDeliversOnce(t *testing.T) {
	tpl, err := NewTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, "")
	clock := newClock()
	cert, pool := testCA(t)
	addr := freeAddr(t) // the server is down
	reg := prometheus.NewRegistry()
	d := newDispatcher(t, DispatcherConfig{DB: db, Email: newSMTPSender(t, addr, pool, nil), Now: clock.Now, Registerer: reg})

	common := Common{Name: "Budi Santoso", PortalURL: "https://portal.psre.test/"}
	m1, err := tpl.Email(KindRequestReceived, LangID, "budi@example.test", common)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := tpl.Email(KindApproved, LangEN, "Siti Rahayu <siti@example.test>", ApprovedData{Common: common, ActivationURL: "https://portal.psre.test/aktivasi/abc"})
	if err != nil {
		t.Fatal(err)
	}
	m3, err := tpl.Email(KindPaymentInstructions, LangID, "budi@example.test", PaymentInstructionsData{Common: common, Amount: "Rp 150.000", BankName: "Bank Contoh", AccountNumber: "1234567890", Reference: "INV-2026-0001"})
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.7\n\x00\x01binary invoice\xff")
	m3.Attachments = []Attachment{{Name: "faktur-INV-2026-0001.pdf", ContentType: "application/pdf", Data: pdf}}
	m4 := Message{Channel: ChannelEmail, To: "andi@example.test", Subject: "Sertifikat — ümlaut ✓ ñ", Text: "Teks saja.", Kind: "custom"}
	ids := enqueue(t, db, m1, m2, m3, m4)

	runOnce(t, d, 0)
	for _, id := range ids {
		r := getRecord(t, db, id)
		if r.Status != StatusPending || r.Attempts != 1 || !r.NextAttempt.Equal(clock.Now().Add(30*time.Second)) || r.LastError == "" {
			t.Fatalf("after a failed attempt: %+v", r)
		}
	}
	runOnce(t, d, 0) // nothing due yet: no attempt
	if r := getRecord(t, db, ids[0]); r.Attempts != 1 {
		t.Fatalf("attempted before NextAttempt: %d", r.Attempts)
	}

	srv := startSMTP(t, addr, &cert, nil) // the server comes back
	clock.Advance(31 * time.Second)
	runOnce(t, d, 4)
	runOnce(t, d, 0)
	got := srv.received()
	if len(got) != 4 {
		t.Fatalf("server received %d messages, want 4", len(got))
	}
	for i, id := range ids {
		r := getRecord(t, db, id)
		if r.Status != StatusSent || r.Attempts != 2 || !r.Sent.Equal(clock.Now()) || r.LastError != "" {
			t.Errorf("record %d: %+v", id, r)
		}
		if !got[i].TLS || !got[i].Authed || got[i].From != "noreply@psre.test" {
			t.Errorf("message %d: TLS %v authed %v from %q", id, got[i].TLS, got[i].Authed, got[i].From)
		}
		p := parseMail(t, got[i].Data)
		if p.Subject != r.Subject || p.Header.Get("Message-Id") != "<"+r.MessageID+"@psre.test>" {
			t.Errorf("message %d: subject %q, Message-ID %q", id, p.Subject, p.Header.Get("Message-Id"))
		}
		if strings.TrimSpace(p.Text) != strings.TrimSpace(r.Text) || strings.TrimSpace(p.HTML) != strings.TrimSpace(r.HTML) {
			t.Errorf("message %d: body differs", id)
		}
	}
	want := []string{
		"multipart/alternative,text/plain,text/html",
		"multipart/alternative,text/plain,text/html",
		"multipart/mixed,multipart/alternative,text/plain,text/html,application/pdf",
		"text/plain",
	}
	for i, w := range want {
		if s := strings.Join(parseMail(t, got[i].Data).Structure, ","); s != w {
			t.Errorf("message %d structure %s, want %s", i+1, s, w)
		}
	}
	if a := parseMail(t, got[2].Data).Attachments["faktur-INV-2026-0001.pdf"]; !bytes.Equal(a, pdf) {
		t.Errorf("attachment %q", a)
	}
	if got[0].To[0] != "budi@example.test" || got[1].To[0] != "siti@example.test" {
		t.Errorf("recipients %v %v", got[0].To, got[1].To)
	}
	if p := parseMail(t, got[1].Data); !strings.Contains(p.Subject, "approved") || !strings.Contains(p.HTML, `href="https://portal.psre.test/aktivasi/abc"`) {
		t.Errorf("English approved mail: %q", p.Subject)
	}
	if p := parseMail(t, got[0].Data); !strings.Contains(p.Subject, "Permohonan") || p.Header.Get("Content-Language") != "id" {
		t.Errorf("Indonesian mail: %q", p.Subject)
	}
	if v := testutil.ToFloat64(d.m.messages.WithLabelValues(ChannelEmail, "retry")); v != 4 {
		t.Errorf("retry count %v", v)
	}
	if v := testutil.ToFloat64(d.m.messages.WithLabelValues(ChannelEmail, "sent")); v != 4 {
		t.Errorf("sent count %v", v)
	}
}

func TestMaxAttemptsThenFailed(t *testing.T) {
	db := openDB(t, "")
	clock := newClock()
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	d := newDispatcher(t, DispatcherConfig{
		DB: db, Email: failSender{errors.New("550 budi@example.test: 123456 rejected")}, Now: clock.Now, Registerer: reg,
		Backoff: BackoffConfig{Min: time.Second, Max: 3 * time.Second, MaxAttempts: 4},
		Logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	id := enqueue(t, db, Message{Channel: ChannelEmail, To: "budi@example.test", Subject: "Kode 123456", Text: "Kode OTP 123456", Kind: KindOTPEmail})[0]
	enqueue(t, db, Message{Channel: ChannelSMS, To: "+6281234567890", Text: "sms", Kind: KindOTPSMS})
	if v := gauge(t, reg, "appliance_notify_pending", "email"); v != 1 {
		t.Fatalf("pending %v", v)
	}
	for i, wantDelay := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		runOnce(t, d, 1-min(i, 1)) // the SMS goes out on the first pass
		r := getRecord(t, db, id)
		if r.Status != StatusPending || r.Attempts != i+1 || r.NextAttempt.Sub(clock.Now()) != wantDelay {
			t.Fatalf("attempt %d: %+v", i+1, r)
		}
		clock.Advance(wantDelay)
	}
	runOnce(t, d, 0)
	if r := getRecord(t, db, id); r.Status != StatusFailed || r.Attempts != 4 || r.LastError == "" {
		t.Fatalf("%+v", r)
	}
	clock.Advance(time.Hour)
	runOnce(t, d, 0)
	if r := getRecord(t, db, id); r.Attempts != 4 {
		t.Fatal("a failed message was attempted again")
	}
	for res, want := range map[string]float64{"retry": 3, "failed": 1, "sent": 0} {
		if v := testutil.ToFloat64(d.m.messages.WithLabelValues(ChannelEmail, res)); v != want {
			t.Errorf("email %s = %v, want %v", res, v, want)
		}
	}
	if v := gauge(t, reg, "appliance_notify_pending", "email"); v != 0 {
		t.Errorf("pending %v", v)
	}
	if n, err := testutil.GatherAndCount(reg, "appliance_notify_send_duration_seconds"); err != nil || n != 2 {
		t.Errorf("duration series %d %v", n, err)
	}
	for _, secret := range []string{"budi@example.test", "123456", "Kode", "+6281234567890"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), `"outbox_id":1`) {
		t.Errorf("log lacks the outbox id:\n%s", logs.String())
	}
}

func TestPermanentErrorFailsAtOnce(t *testing.T) {
	db := openDB(t, "")
	cert, pool := testCA(t)
	srv := startSMTP(t, "", &cert, func(s *smtpServer) { s.rejectRcpt = "nobody@example.test" })
	d := newDispatcher(t, DispatcherConfig{DB: db, Email: newSMTPSender(t, srv.Addr, pool, nil)})
	id := enqueue(t, db, Message{Channel: ChannelEmail, To: "nobody@example.test", Subject: "S", Text: "T"})[0]
	runOnce(t, d, 0)
	if r := getRecord(t, db, id); r.Status != StatusFailed || r.Attempts != 1 {
		t.Fatalf("%+v", r)
	}
	if v := testutil.ToFloat64(d.m.messages.WithLabelValues(ChannelEmail, "failed")); v != 1 {
		t.Errorf("failed = %v", v)
	}
}

// signalSender reports each delivery on a channel.
type signalSender chan uint64

func (s signalSender) Send(_ context.Context, r Record) error { s <- r.ID; return nil }

func TestRunDeliversOnWake(t *testing.T) {
	db := openDB(t, "")
	sent := make(signalSender, 10)
	d := newDispatcher(t, DispatcherConfig{DB: db, SMS: sent, PollInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	for want := uint64(1); want <= 2; want++ {
		enqueue(t, db, Message{Channel: ChannelSMS, To: "+6281234567890", Text: "x", Kind: KindOTPSMS})
		d.Wake()
		d.Wake() // never blocks
		select {
		case id := <-sent:
			if id != want {
				t.Fatalf("sent %d, want %d", id, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not deliver after Wake")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestNewDispatcherNeedsSenders(t *testing.T) {
	if _, err := NewDispatcher(DispatcherConfig{DB: openDB(t, "")}); err == nil {
		t.Fatal("no error")
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name, channel string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "channel" && l.GetValue() == channel {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{channel=%q}", name, channel)
	return 0
}

// After an outage, a message in backoff goes out as soon as a newer one
// proves the server is back, not up to an hour after it.
func TestBackedOffMessagesFollowAWorkingChannel(t *testing.T) {
	db := openDB(t, "")
	clock := newClock()
	cert, pool := testCA(t)
	addr := freeAddr(t) // the server is down
	d := newDispatcher(t, DispatcherConfig{DB: db, Email: newSMTPSender(t, addr, pool, nil), Now: clock.Now})
	old := enqueue(t, db, Message{Channel: ChannelEmail, To: "budi@example.test", Subject: "first", Text: "1", Kind: "custom"})
	runOnce(t, d, 0)
	if r := getRecord(t, db, old[0]); r.Attempts != 1 || !r.NextAttempt.After(clock.Now()) {
		t.Fatalf("after the failed attempt: %+v", r)
	}
	srv := startSMTP(t, addr, &cert, nil)
	newer := enqueue(t, db, Message{Channel: ChannelEmail, To: "budi@example.test", Subject: "second", Text: "2", Kind: "custom"})
	runOnce(t, d, 2) // no clock advance: the first is still in backoff
	got := srv.received()
	if len(got) != 2 || parseMail(t, got[0].Data).Subject != "second" || parseMail(t, got[1].Data).Subject != "first" {
		t.Fatalf("received %d messages", len(got))
	}
	for _, id := range append(old, newer...) {
		if r := getRecord(t, db, id); r.Status != StatusSent {
			t.Fatalf("message %d: %s", id, r.Status)
		}
	}
}
