package main

// Helpers of the in-process end-to-end tests of the review flow
// (review_e2e_test.go) and of the authorisation matrix
// (authz_matrix_test.go): the service as runService runs it, in this
// process, on a demo state directory; a real SMTP relay (emersion/go-smtp,
// STARTTLS and AUTH PLAIN) and an SMS sink; a portal browser with a cookie
// jar; console clients over mTLS with the officers' certificates.
//
// SoftHSM reads SOFTHSM2_CONF when the library initialises and demoLayout
// sets it with os.Setenv for the whole process: none of these tests may be
// t.Parallel.
//
// Nothing here sleeps to synchronise: the tests wait on runService's
// "ready" lines, on the SMTP server's received messages and on the
// connections a relay accepts; rvTimeout only bounds a wait that fails.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/notify"
	"github.com/psre/appliance/store"
)

// rvTimeout bounds every wait of these tests. It is a failure bound, never
// a synchronisation: each wait ends as soon as what it waits for happens.
const rvTimeout = 60 * time.Second

// rvSyncBuffer collects the service's log lines, shown when a test fails.
type rvSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *rvSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *rvSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rvInitDemo lays out a fresh demo state directory in process, as
// `appliance demo --init-only` does: SoftHSM tokens, CA hierarchy,
// database, the demo officers DIR/officers/{cs,ra,auditor}.{crt,key} and
// the console's TLS certificate DIR/pki/console.pem for localhost.
func rvInitDemo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	// The demo and demoLayout set SOFTHSM2_CONF with os.Setenv; t.Setenv
	// restores the environment when the test ends.
	t.Setenv("SOFTHSM2_CONF", filepath.Join(dir, "softhsm2.conf"))
	metrics, err := hsm.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := (&demo{dir: dir, out: io.Discard, log: slog.New(slog.DiscardHandler), metrics: metrics}).init(ctx); err != nil {
		t.Fatalf("demo init: %v", err)
	}
	return dir
}

// rvCLI runs the appliance command line in process (as `appliance ARGS`).
func rvCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), rvTimeout)
	defer cancel()
	// run makes its logger the process's default: put the old one back.
	prev, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
	defer func() {
		slog.SetDefault(prev)
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
	}()
	var stdout bytes.Buffer
	stderr := &rvSyncBuffer{}
	err := run(ctx, args, &stdout, stderr)
	if err != nil {
		err = fmt.Errorf("appliance %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), err
}

// ---- the SMTP relay ----

const (
	rvSMTPUser = "appliance"
	rvSMTPPass = "rahasia relay uji"
	rvMailFrom = "noreply@psre.example"
)

// rvRelayCert is a self-signed certificate for 127.0.0.1 and localhost,
// and a pool that trusts it.
func rvRelayCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// rvReceived is one message the relay accepted.
type rvReceived struct {
	from        string
	to          []string
	data        []byte
	tls, authed bool
}

// rvRelay is a real SMTP submission server (go-smtp) that offers
// STARTTLS, requires AUTH PLAIN and records what it accepts.
type rvRelay struct {
	addr string
	mu   sync.Mutex
	msgs []rvReceived
	// arrived gets every accepted message once its sender has ended the
	// session (QUIT): the sender then holds the 250 of its DATA, so its
	// delivery counts as done.
	arrived chan rvReceived
}

// rvServeRelay serves the relay on ln until the test ends.
func rvServeRelay(t *testing.T, ln net.Listener, cert tls.Certificate) *rvRelay {
	t.Helper()
	r := &rvRelay{addr: ln.Addr().String(), arrived: make(chan rvReceived, 64)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &rvSMTPSession{r: r, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

// rvNewRelay serves a relay on a fresh loopback port.
func rvNewRelay(t *testing.T) (*rvRelay, *x509.CertPool) {
	t.Helper()
	cert, pool := rvRelayCert(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return rvServeRelay(t, ln, cert), pool
}

func (r *rvRelay) all() []rvReceived {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rvReceived(nil), r.msgs...)
}

// next waits for the next accepted message.
func (r *rvRelay) next(t *testing.T) rvMail {
	t.Helper()
	select {
	case m := <-r.arrived:
		return rvParseMail(t, m)
	case <-time.After(rvTimeout):
		t.Fatalf("the SMTP relay received no message within %v (%d so far)", rvTimeout, len(r.all()))
		return rvMail{}
	}
}

// expect waits for the next message and requires it to be the email of
// kind (by its subject in Indonesian, the applicants' language) to to.
func (r *rvRelay) expect(t *testing.T, to, kind string) rvMail {
	t.Helper()
	m := r.next(t)
	if want := rvSubject(t, kind); m.Subject != want || m.To != to {
		t.Fatalf("next email: %q to %s, want %s (%q) to %s\n%s", m.Subject, m.To, kind, want, to, m.Text)
	}
	m.Kind = kind
	return m
}

type rvSMTPSession struct {
	r        *rvRelay
	c        *smtp.Conn
	authed   bool
	from     string
	to       []string
	accepted []rvReceived
}

func (x *rvSMTPSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *rvSMTPSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != rvSMTPUser || pass != rvSMTPPass {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}), nil
}

func (x *rvSMTPSession) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *rvSMTPSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *rvSMTPSession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	_, isTLS := x.c.TLSConnectionState()
	m := rvReceived{from: x.from, to: x.to, data: b, tls: isTLS, authed: x.authed}
	x.r.mu.Lock()
	x.r.msgs = append(x.r.msgs, m)
	x.r.mu.Unlock()
	x.accepted = append(x.accepted, m)
	return nil
}

func (x *rvSMTPSession) Reset() { x.from, x.to = "", nil }

func (x *rvSMTPSession) Logout() error {
	for _, m := range x.accepted {
		x.r.arrived <- m
	}
	x.accepted = nil
	return nil
}

// rvHungRelay is a relay that is down in the way that keeps a sender
// waiting: it accepts TCP connections and never says a word. accepted
// gets a value for each connection.
type rvHungRelay struct {
	ln       net.Listener
	accepted chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
}

func rvNewHungRelay(t *testing.T) *rvHungRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &rvHungRelay{ln: ln, accepted: make(chan struct{}, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
			select {
			case h.accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(h.close)
	return h
}

func (h *rvHungRelay) addr() string { return h.ln.Addr().String() }

// close stops listening and drops the connections it holds.
func (h *rvHungRelay) close() {
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
	h.conns = nil
}

// rvMail is a received email, parsed.
type rvMail struct {
	Kind                         string // set by rvRelay.expect
	From, To, Subject, MessageID string
	Text                         string // the text/plain part, decoded
	EnvelopeFrom                 string
	EnvelopeTo                   []string
	OverTLS, Authenticated       bool
	ContentLanguage              string
}

// rvParseMail parses a message with net/mail and mime/multipart and
// extracts its text part (quoted-printable decoded).
func rvParseMail(t *testing.T, r rvReceived) rvMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(r.data))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, r.data)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	m := rvMail{Subject: subject, MessageID: msg.Header.Get("Message-ID"), EnvelopeFrom: r.from, EnvelopeTo: r.to,
		OverTLS: r.tls, Authenticated: r.authed, ContentLanguage: msg.Header.Get("Content-Language")}
	if from, err := mail.ParseAddress(msg.Header.Get("From")); err == nil {
		m.From = from.Address
	}
	if to, err := mail.ParseAddress(msg.Header.Get("To")); err == nil {
		m.To = to.Address
	}
	text, ok, err := rvTextPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil || !ok {
		t.Fatalf("message %q: no text/plain part (%v)\n%s", subject, err, r.data)
	}
	m.Text = text
	return m
}

// rvTextPart finds the first text/plain entity, descending into multiparts
// (whose reader decodes quoted-printable parts itself).
func rvTextPart(ctype, cte string, body io.Reader) (string, bool, error) {
	media, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", false, err
	}
	switch {
	case strings.HasPrefix(media, "multipart/"):
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return "", false, nil
			}
			if err != nil {
				return "", false, err
			}
			text, ok, err := rvTextPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err != nil || ok {
				return text, ok, err
			}
		}
	case media == "text/plain":
		if strings.EqualFold(cte, "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(body)
		return string(b), err == nil, err
	}
	return "", false, nil
}

// rvSubject is the Indonesian subject of an email kind, as the product's
// templates render it.
func rvSubject(t *testing.T, kind string) string {
	t.Helper()
	tpl, err := notify.NewTemplates(productName)
	if err != nil {
		t.Fatal(err)
	}
	var data any = &notify.Common{Name: "X", PortalURL: "http://x.test"}
	switch kind {
	case notify.KindPaymentInstructions:
		data = &notify.PaymentInstructionsData{Common: notify.Common{Name: "X", PortalURL: "http://x.test"}, Amount: "Rp 1"}
	case notify.KindApproved:
		data = &notify.ApprovedData{Common: notify.Common{Name: "X", PortalURL: "http://x.test"}, ActivationURL: "http://x.test/a"}
	}
	m, err := tpl.Email(kind, "id", "x@example.com", data)
	if err != nil {
		t.Fatalf("render %s: %v", kind, err)
	}
	return m.Subject
}

// rvSMSSink is the SMS gateway: it records what it is sent.
type rvSMSSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func rvNewSMSSink(t *testing.T) *rvSMSSink {
	t.Helper()
	s := &rvSMSSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *rvSMSSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

// ---- the service ----

// rvNotify is where the service sends its notifications.
type rvNotify struct {
	relay string         // host:port of the SMTP relay
	pool  *x509.CertPool // trusts the relay's certificate
	sms   string         // the SMS gateway's URL
}

// rvService is runService running in this process on a demo directory.
type rvService struct {
	dir     string
	portal  string // http://127.0.0.1:PORT
	console string // https://127.0.0.1:PORT; its certificate names localhost
	cancel  context.CancelFunc
	done    chan error
	logs    *rvSyncBuffer
	stopped bool
}

// rvLines passes runService's output on, line by line.
type rvLines struct {
	mu  sync.Mutex
	buf []byte
	ch  chan string
}

func (w *rvLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case w.ch <- string(w.buf[:i]):
		default: // nobody reads that many lines
		}
		w.buf = w.buf[i+1:]
	}
}

// rvStart runs the service on dir with the portal, console and metrics on
// free loopback ports, the SMTP relay and SMS gateway of n, no development
// mailbox, and a captcha whose answer is always 123456. It returns once the
// service printed its addresses (the admin socket answers by then) and
// stops it when the test ends.
func rvStart(t *testing.T, dir string, n rvNotify) *rvService {
	t.Helper()
	pwFile := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(pwFile, []byte(rvSMTPPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics, err := hsm.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := &rvService{dir: dir, done: make(chan error, 1), logs: &rvSyncBuffer{}}
	logger := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	open := func(portalAddr string) (layout, error) {
		l, err := demoLayout(dir, demoSettings(portalAddr))
		l.Serving, l.DevMailbox = true, false
		l.SMTP = &notify.SMTPConfig{Addr: n.relay, From: "PSrE Demo <" + rvMailFrom + ">",
			Username: rvSMTPUser, PasswordFile: pwFile, RootCAs: n.pool}
		l.SMS = &notify.SMSConfig{URL: n.sms, BodyTemplate: `{"to": {{json .To}}, "text": {{json .Text}}}`}
		l.captchaDigits = func() []byte { return []byte{1, 2, 3, 4, 5, 6} }
		return l, err
	}
	lines := &rvLines{ch: make(chan string, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		s.done <- runService(ctx, lines, logger, reg, metrics,
			listenAddrs{portal: "127.0.0.1:0", console: "127.0.0.1:0", metrics: "127.0.0.1:0"}, open)
	}()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("service log (warnings and errors):\n%s", s.logs.String())
		}
	})
	deadline := time.After(rvTimeout)
	for {
		select {
		case line := <-lines.ch:
			switch f := strings.Fields(line); {
			case len(f) < 2:
			case f[0] == "portal:":
				s.portal = strings.TrimSuffix(f[1], "/")
			case f[0] == "console:":
				u, err := url.Parse(f[1])
				if err != nil || u.Hostname() != "localhost" {
					t.Fatalf("console line %q", line)
				}
				s.console = "https://127.0.0.1:" + u.Port()
			case f[0] == "admin:": // the last address line: everything is up
				if s.portal == "" || s.console == "" {
					t.Fatalf("service ready without portal (%q) or console (%q)", s.portal, s.console)
				}
				return s
			}
		case err := <-s.done:
			s.stopped = true
			t.Fatalf("service stopped before it was ready: %v\n%s", err, s.logs.String())
		case <-deadline:
			t.Fatalf("service not ready within %v\n%s", rvTimeout, s.logs.String())
		}
	}
}

// stop ends the service and waits for runService to return.
func (s *rvService) stop(t *testing.T) {
	t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("runService: %v", err)
		}
	case <-time.After(rvTimeout):
		t.Errorf("runService did not return within %v of its context ending", rvTimeout)
	}
}

// rvOutbox reads the outbox of a stopped service's store.
func rvOutbox(t *testing.T, dir string) []notify.Record {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "appliance.db"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var recs []notify.Record
	err = db.DB.View(func(tx *bolt.Tx) error {
		return notify.Each(tx, false, func(r notify.Record) error {
			recs = append(recs, r)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// rvWaitBound is the failure bound of a wait.
func rvWaitBound() <-chan time.Time { return time.After(rvTimeout) }
