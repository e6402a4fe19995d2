package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPConfig configures an SMTPSender.
type SMTPConfig struct {
	Addr         string // host:port of the submission server
	From         string // RFC 5322 address, may carry a display name
	Username     string // empty: no authentication
	PasswordFile string // file holding the password (trailing newline ignored)
	ServerName   string // TLS server name; default: host of Addr
	RootCAs      *x509.CertPool
	// AllowNoTLS turns the STARTTLS requirement off (the zero value
	// requires it): STARTTLS is still used when offered, otherwise the
	// message goes in clear. Credentials are never sent without TLS.
	AllowNoTLS  bool
	ImplicitTLS bool          // TLS from the first byte (port 465) instead of STARTTLS
	LocalName   string        // EHLO name after TLS; default "localhost"
	Timeout     time.Duration // whole conversation; default 1 minute
}

// SMTPSender delivers email records through an SMTP submission server,
// one connection per message.
type SMTPSender struct {
	cfg    SMTPConfig
	from   *mail.Address
	domain string
}

// NewSMTPSender checks cfg (including that the password file is readable)
// and returns a sender.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("notify: smtp From %q: %w", cfg.From, err)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("notify: smtp Addr: %w", err)
	}
	if cfg.Username != "" {
		if _, err := readSecret(cfg.PasswordFile); err != nil {
			return nil, fmt.Errorf("notify: smtp password: %w", err)
		}
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(cfg.Addr)
	}
	if cfg.LocalName == "" {
		cfg.LocalName = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	return &SMTPSender{cfg: cfg, from: from, domain: domain}, nil
}

// readSecret reads a one-line secret from a file.
func readSecret(path string) (string, error) {
	if path == "" {
		return "", errors.New("no secret file configured")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Send delivers one email record. A rejection of the recipient or of the
// content (5xx after RCPT or DATA) is Permanent; everything else is worth a
// retry.
func (s *SMTPSender) Send(ctx context.Context, r Record) error {
	if r.Channel != ChannelEmail {
		return Permanent(fmt.Errorf("%w: not an email", ErrInvalidMessage))
	}
	to, err := mail.ParseAddress(r.To)
	if err != nil {
		return Permanent(fmt.Errorf("%w: recipient is not an email address", ErrInvalidMessage))
	}
	msg, err := buildMIME(r, s.from, s.domain)
	if err != nil {
		return Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	err = s.send(ctx, to.Address, msg)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("smtp: %w (%v)", ctx.Err(), err)
	}
	return err
}

func (s *SMTPSender) send(ctx context.Context, rcpt string, msg []byte) error {
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if s.cfg.Username != "" {
		if _, ok := c.TLSConnectionState(); !ok {
			return ErrInsecureAuth
		}
		pw, err := readSecret(s.cfg.PasswordFile)
		if err != nil {
			return fmt.Errorf("smtp: password: %w", err)
		}
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, pw)); err != nil {
			return fmt.Errorf("smtp: auth: %w", err)
		}
	}
	var opts *smtp.MailOptions
	if !isASCII(s.from.Address) || !isASCII(rcpt) {
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(s.from.Address, opts); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return fmt.Errorf("smtp: RCPT TO: %w", permanentIf5xx(err))
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: end of DATA: %w", permanentIf5xx(err))
	}
	// The server has accepted the message: a failing QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// connect dials and secures the connection; the context closes it.
func (s *SMTPSender) connect(ctx context.Context) (*smtp.Client, error) {
	tcfg := &tls.Config{ServerName: s.cfg.ServerName, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	dial := func() (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("smtp: dial: %w", err)
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
	conn, err := dial()
	if err != nil {
		return nil, err
	}
	var c *smtp.Client
	switch {
	case s.cfg.ImplicitTLS:
		tc := tls.Client(conn, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("smtp: tls: %w", err)
		}
		c = smtp.NewClient(tc)
	default:
		c, err = smtp.NewClientStartTLS(conn, tcfg)
		if err != nil && isNoStartTLS(err) && s.cfg.AllowNoTLS {
			if conn, err = dial(); err != nil {
				return nil, err
			}
			c = smtp.NewClient(conn)
		} else if err != nil {
			if isNoStartTLS(err) {
				return nil, ErrNoStartTLS
			}
			return nil, fmt.Errorf("smtp: starttls: %w", err)
		}
	}
	c.CommandTimeout, c.SubmissionTimeout = s.cfg.Timeout, s.cfg.Timeout
	if err := c.Hello(s.cfg.LocalName); err != nil {
		c.Close()
		return nil, fmt.Errorf("smtp: hello: %w", err)
	}
	return c, nil
}

// isNoStartTLS recognises go-smtp's (untyped) "server doesn't support
// STARTTLS" error; a test pins the wording.
func isNoStartTLS(err error) bool {
	var smtpErr *smtp.SMTPError
	return !errors.As(err, &smtpErr) && strings.Contains(err.Error(), "support STARTTLS")
}

func permanentIf5xx(err error) error {
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) && smtpErr.Code >= 500 {
		return Permanent(err)
	}
	return err
}

func isASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 })
}
