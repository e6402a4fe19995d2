package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testCA is a self-signed certificate for 127.0.0.1 and localhost, and a
// pool that trusts it.
func testCA(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
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

const (
	testUser = "notify"
	testPass = "s3cret pässword"
)

// received is one message the test SMTP server accepted.
type received struct {
	From   string
	To     []string
	Data   []byte
	TLS    bool
	Authed bool
}

// smtpServer is a real SMTP server (go-smtp) that requires AUTH PLAIN and
// records what it receives.
type smtpServer struct {
	Addr       string
	mu         sync.Mutex
	msgs       []received
	authCmds   int    // AUTH commands seen (credentials offered)
	rejectRcpt string // answered 550
	open       bool   // MAIL without AUTH accepted
	implicit   bool   // TLS from the first byte (needs a certificate)
}

// startSMTP serves on addr ("" for any free port). With cert nil there is
// no STARTTLS and AUTH is offered in clear. mod, if not nil, sets options
// before the server starts.
func startSMTP(t *testing.T, addr string, cert *tls.Certificate, mod func(*smtpServer)) *smtpServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{Addr: l.Addr().String()}
	if mod != nil {
		mod(s)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{s: s, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	} else {
		srv.AllowInsecureAuth = true
	}
	if s.implicit {
		l = tls.NewListener(l, srv.TLSConfig)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *smtpServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *smtpServer) authCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authCmds
}

type testSession struct {
	s      *smtpServer
	c      *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (x *testSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *testSession) Auth(string) (sasl.Server, error) {
	x.s.mu.Lock()
	x.s.authCmds++
	x.s.mu.Unlock()
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != testUser || pass != testPass {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}), nil
}

func (x *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed && !x.s.open {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == x.s.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + to}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := x.c.TLSConnectionState()
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, received{From: x.from, To: x.to, Data: b, TLS: isTLS, Authed: x.authed})
	x.s.mu.Unlock()
	return nil
}

func (x *testSession) Reset()        { x.from, x.to = "", nil }
func (x *testSession) Logout() error { return nil }

// freeAddr returns a local address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
