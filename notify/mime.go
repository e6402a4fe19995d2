package notify

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// messageID is the Message-ID header value of r for a sender whose
// address is in domain.
func messageID(r Record, domain string) string {
	return "<" + r.MessageID + "@" + domain + ">"
}

// buildMIME renders r as an RFC 5322 message with CRLF line endings:
// text/plain alone, or multipart/alternative text+HTML, wrapped in
// multipart/mixed when there are attachments. Everything is UTF-8; text is
// quoted-printable, attachments base64. The Date is the record's creation
// time, so a resend is byte-for-byte the same message apart from boundaries.
func buildMIME(r Record, from *mail.Address, domain string) ([]byte, error) {
	to, err := mail.ParseAddress(r.To)
	if err != nil {
		return nil, fmt.Errorf("%w: recipient is not an email address", ErrInvalidMessage)
	}
	body, ctype, err := bodyPart(r)
	if err != nil {
		return nil, err
	}
	if len(r.Attachments) > 0 {
		if body, ctype, err = mixed(body, ctype, r.Attachments); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	hdr("To", to.String())
	hdr("Subject", encodeSubject(r.Subject))
	hdr("Date", r.Created.In(wib).Format(time.RFC1123Z))
	hdr("Message-ID", messageID(r, domain))
	if r.Lang != "" {
		hdr("Content-Language", mimeToken(r.Lang))
	}
	hdr("Auto-Submitted", "auto-generated")
	hdr("MIME-Version", "1.0")
	b.WriteString(ctype)
	b.Write(body)
	return b.Bytes(), nil
}

// encodeSubject collapses whitespace (no header injection through CR/LF)
// and Q-encodes when needed, folding between encoded words.
func encodeSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(mime.QEncoding.Encode("utf-8", s), "?= =?", "?=\r\n =?")
}

func mimeToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// bodyPart returns the text (and HTML) body and the header lines that
// describe it, ending with the blank line.
func bodyPart(r Record) ([]byte, string, error) {
	if r.HTML == "" {
		var b bytes.Buffer
		if err := writeQP(&b, r.Text); err != nil {
			return nil, "", err
		}
		return b.Bytes(), "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", nil
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range []struct{ ctype, text string }{{"text/plain", r.Text}, {"text/html", r.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, "", fmt.Errorf("notify: mime part: %w", err)
		}
		if err := writeQP(w, p.text); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", fmt.Errorf("notify: mime: %w", err)
	}
	return b.Bytes(), "Content-Type: multipart/alternative; boundary=" + mw.Boundary() + "\r\n\r\n", nil
}

func writeQP(w io.Writer, text string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, text); err != nil {
		return fmt.Errorf("notify: quoted-printable: %w", err)
	}
	if err := qp.Close(); err != nil {
		return fmt.Errorf("notify: quoted-printable: %w", err)
	}
	return nil
}

// mixed wraps a body (with its header lines) and the attachments in a
// multipart/mixed entity.
func mixed(body []byte, bodyHeader string, atts []Attachment) ([]byte, string, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	// The body's own header lines go first in its part: write them raw.
	h := textproto.MIMEHeader{}
	for _, line := range strings.Split(strings.TrimSpace(bodyHeader), "\r\n") {
		k, v, _ := strings.Cut(line, ": ")
		h.Set(k, v)
	}
	w, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", fmt.Errorf("notify: mime part: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return nil, "", fmt.Errorf("notify: mime part: %w", err)
	}
	for _, a := range atts {
		ctype := mime.FormatMediaType(a.ContentType, map[string]string{"name": a.Name})
		disp := mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})
		if ctype == "" || disp == "" {
			return nil, "", fmt.Errorf("%w: attachment content type or name", ErrInvalidMessage)
		}
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {ctype},
			"Content-Disposition":       {disp},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, "", fmt.Errorf("notify: attachment part: %w", err)
		}
		if err := writeBase64(w, a.Data); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", fmt.Errorf("notify: mime: %w", err)
	}
	return b.Bytes(), "Content-Type: multipart/mixed; boundary=" + mw.Boundary() + "\r\n\r\n", nil
}

// writeBase64 writes data in base64 lines of 76 characters.
func writeBase64(w io.Writer, data []byte) error {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 0 {
		n := min(76, len(enc))
		if _, err := io.WriteString(w, enc[:n]+"\r\n"); err != nil {
			return fmt.Errorf("notify: base64: %w", err)
		}
		enc = enc[n:]
	}
	return nil
}
