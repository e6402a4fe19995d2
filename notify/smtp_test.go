package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// parsedMail is a received message taken apart with the standard library.
type parsedMail struct {
	Header      mail.Header
	Subject     string
	Structure   []string // media types, depth first
	Text, HTML  string
	Attachments map[string][]byte
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\n")) {
		t.Fatal("bare LF in message")
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	p := parsedMail{Header: m.Header, Subject: subj, Attachments: map[string][]byte{}}
	p.walk(t, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), "", m.Body)
	return p
}

func (p *parsedMail) walk(t *testing.T, ctype, cte, disp string, body io.Reader) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatalf("content type %q: %v", ctype, err)
	}
	p.Structure = append(p.Structure, mt)
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart() // decodes quoted-printable itself
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p.walk(t, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), part)
		}
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	if cte == "base64" {
		if b, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b), "\r\n", "")); err != nil {
			t.Fatal(err)
		}
	}
	if _, dp, err := mime.ParseMediaType(disp); err == nil && dp["filename"] != "" {
		p.Attachments[dp["filename"]] = b
		return
	}
	if params["charset"] != "utf-8" {
		t.Errorf("%s part charset %q", mt, params["charset"])
	}
	switch text := strings.ReplaceAll(string(b), "\r\n", "\n"); mt {
	case "text/plain":
		p.Text = text
	case "text/html":
		p.HTML = text
	}
}

func testRecord(to string) Record {
	return Record{
		ID: 7, MessageID: "outbox-7.TEST", Created: time.Now(), Status: StatusPending,
		Message: Message{Channel: ChannelEmail, To: to, Subject: "Tes", Text: "Halo", Kind: "test"},
	}
}

func TestSMTPSenderTLSAndAuth(t *testing.T) {
	cert, pool := testCA(t)
	_, otherPool := testCA(t)
	tests := []struct {
		name      string
		tls       bool
		srvMod    func(*smtpServer)
		mod       func(*SMTPConfig)
		wantErr   error  // errors.Is
		wantClass string // errorClass, when wantErr is nil but an error is expected
		wantAuths int
		wantTLS   bool
	}{
		{name: "starttls and auth", tls: true, wantAuths: 1, wantTLS: true},
		{name: "no starttls offered: refused before any credential", wantErr: ErrNoStartTLS},
		{name: "no starttls, tls optional, credentials configured", mod: func(c *SMTPConfig) { c.AllowNoTLS = true }, wantErr: ErrInsecureAuth},
		{name: "untrusted server certificate", tls: true, mod: func(c *SMTPConfig) { c.RootCAs = otherPool }, wantClass: "tls"},
		{name: "wrong password", tls: true, mod: func(c *SMTPConfig) { c.PasswordFile = secretFile(t, "nope") }, wantClass: "smtp_auth", wantAuths: 1},
		{name: "implicit tls", tls: true, srvMod: func(s *smtpServer) { s.implicit = true }, mod: func(c *SMTPConfig) { c.ImplicitTLS = true }, wantAuths: 1, wantTLS: true},
		{name: "tls optional, offered: used", tls: true, mod: func(c *SMTPConfig) { c.AllowNoTLS = true }, wantAuths: 1, wantTLS: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var srv *smtpServer
			if tc.tls {
				srv = startSMTP(t, "", &cert, tc.srvMod)
			} else {
				srv = startSMTP(t, "", nil, tc.srvMod)
			}
			s := newSMTPSender(t, srv.Addr, pool, tc.mod)
			err := s.Send(context.Background(), testRecord("budi@example.test"))
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.wantClass != "":
				if err == nil || errorClass(err) != tc.wantClass {
					t.Fatalf("err = %v (class %q), want class %q", err, errorClass(err), tc.wantClass)
				}
			case err != nil:
				t.Fatal(err)
			}
			if got := srv.authCount(); got != tc.wantAuths {
				t.Errorf("AUTH commands = %d, want %d", got, tc.wantAuths)
			}
			got := srv.received()
			if ok := tc.wantErr == nil && tc.wantClass == ""; ok != (len(got) == 1) {
				t.Fatalf("server received %d messages", len(got))
			}
			if len(got) == 1 && (got[0].TLS != tc.wantTLS || !got[0].Authed) {
				t.Errorf("received over TLS=%v authed=%v", got[0].TLS, got[0].Authed)
			}
		})
	}
}

func TestSMTPSenderPlainRelayWithoutCredentials(t *testing.T) {
	t.Run("relay requiring auth: error, not permanent", func(t *testing.T) {
		srv := startSMTP(t, "", nil, nil)
		s := newSMTPSender(t, srv.Addr, nil, func(c *SMTPConfig) { c.AllowNoTLS, c.Username = true, "" })
		err := s.Send(context.Background(), testRecord("budi@example.test"))
		if err == nil || errors.Is(err, ErrPermanent) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("open relay", func(t *testing.T) {
		srv := startSMTP(t, "", nil, func(s *smtpServer) { s.open = true })
		s := newSMTPSender(t, srv.Addr, nil, func(c *SMTPConfig) { c.AllowNoTLS, c.Username = true, "" })
		if err := s.Send(context.Background(), testRecord("budi@example.test")); err != nil {
			t.Fatal(err)
		}
		if got := srv.received(); len(got) != 1 || got[0].TLS || srv.authCount() != 0 {
			t.Fatalf("received %+v, auth %d", got, srv.authCount())
		}
	})
}

func TestSMTPRecipientRejectedIsPermanent(t *testing.T) {
	cert, pool := testCA(t)
	srv := startSMTP(t, "", &cert, func(s *smtpServer) { s.rejectRcpt = "nobody@example.test" })
	s := newSMTPSender(t, srv.Addr, pool, nil)
	err := s.Send(context.Background(), testRecord("nobody@example.test"))
	if !errors.Is(err, ErrPermanent) || errorClass(err) != "smtp_rejected" {
		t.Fatalf("err = %v, want a permanent smtp_rejected", err)
	}
}

func TestSMTPContextBoundsConversation(t *testing.T) {
	cert, pool := testCA(t)
	srv := startSMTP(t, "", &cert, nil)
	s := newSMTPSender(t, srv.Addr, pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Send(ctx, testRecord("budi@example.test"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(srv.received()) != 0 {
		t.Fatal("sent with a cancelled context")
	}
}

func TestNewSMTPSenderChecksConfig(t *testing.T) {
	for name, cfg := range map[string]SMTPConfig{
		"bad from":         {Addr: "127.0.0.1:25", From: "not an address"},
		"bad addr":         {Addr: "mail.example", From: "a@b.test"},
		"missing password": {Addr: "127.0.0.1:25", From: "a@b.test", Username: "u", PasswordFile: "/nonexistent/pw"},
	} {
		if _, err := NewSMTPSender(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMIMEHeaders(t *testing.T) {
	from, _ := mail.ParseAddress("PSrE Appliance <noreply@psre.test>")
	r := testRecord("Budi Santoso <budi@example.test>")
	r.Subject = "Sertifikat elektronik — ümlaut ✓\r\nBcc: evil@example.test"
	r.Lang = "id"
	b, err := buildMIME(r, from, "psre.test")
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, b)
	if p.Header.Get("Bcc") != "" || !strings.HasPrefix(p.Subject, "Sertifikat elektronik — ümlaut ✓ Bcc:") {
		t.Fatalf("subject %q, Bcc %q", p.Subject, p.Header.Get("Bcc"))
	}
	for k, want := range map[string]string{
		"Message-Id": "<outbox-7.TEST@psre.test>", "Mime-Version": "1.0", "Content-Language": "id",
		"Auto-Submitted": "auto-generated",
	} {
		if got := p.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, err := p.Header.Date(); err != nil {
		t.Error(err)
	}
	if to, err := p.Header.AddressList("To"); err != nil || to[0].Address != "budi@example.test" {
		t.Errorf("To %v %v", to, err)
	}
	if strings.Join(p.Structure, ",") != "text/plain" || p.Text != "Halo" {
		t.Errorf("structure %v text %q", p.Structure, p.Text)
	}
}
