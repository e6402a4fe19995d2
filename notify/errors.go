package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"

	"github.com/emersion/go-smtp"
)

// Errors of the senders that callers and tests branch on.
var (
	// ErrPermanent marks a failure that retrying cannot fix (the server
	// rejected this recipient or this content); the dispatcher marks the
	// message failed at once. Wrap an error with Permanent.
	ErrPermanent = errors.New("permanent delivery failure")
	// ErrNoStartTLS: the SMTP server does not offer STARTTLS and the
	// sender requires it. Nothing was sent, credentials included.
	ErrNoStartTLS = errors.New("smtp: server does not offer STARTTLS")
	// ErrInsecureAuth: credentials are configured but the connection is
	// not encrypted; they are never sent in clear.
	ErrInsecureAuth = errors.New("smtp: refusing to authenticate without TLS")
)

type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

// Permanent marks err as a failure that must not be retried. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// errorClass names the kind of a send failure with a small fixed vocabulary:
// this, not the error text (which may echo an address), is what is logged.
func errorClass(err error) string {
	var (
		smtpErr *smtp.SMTPError
		gwErr   *GatewayStatusError
		netErr  net.Error
		certErr *tls.CertificateVerificationError
		unkCA   x509.UnknownAuthorityError
		hostErr x509.HostnameError
		recErr  tls.RecordHeaderError
		pathErr *fs.PathError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrInvalidMessage):
		return "invalid_message"
	case errors.Is(err, ErrNoStartTLS):
		return "starttls_unavailable"
	case errors.Is(err, ErrInsecureAuth):
		return "insecure_auth"
	case errors.As(err, &smtpErr):
		switch {
		case smtpErr.Code == 530 || smtpErr.Code == 534 || smtpErr.Code == 535 || smtpErr.Code == 454:
			return "smtp_auth"
		case smtpErr.Code >= 500:
			return "smtp_rejected"
		default:
			return "smtp_transient"
		}
	case errors.As(err, &gwErr):
		return "gateway_status"
	case errors.As(err, &certErr), errors.As(err, &unkCA), errors.As(err, &hostErr), errors.As(err, &recErr):
		return "tls"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &netErr):
		return "network"
	case errors.As(err, &pathErr):
		return "config"
	default:
		return "other"
	}
}
