package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
)

// Timestamper obtains an RFC 3161 timestamp token over digest, a hash of
// kind hash. It returns the TimeStampToken (a DER ContentInfo holding
// SignedData over TSTInfo), not the whole TimeStampResp. The appliance's
// TSA can implement it in-process; package signing/tsaclient implements it
// for a TSA reached over HTTP by URL.
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte, hash crypto.Hash) (token []byte, err error)
}

// TimestamperFunc adapts a function to Timestamper.
type TimestamperFunc func(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error)

// Timestamp calls f.
func (f TimestamperFunc) Timestamp(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error) {
	return f(ctx, digest, hash)
}

// Appearance places a visible signature on a page.
type Appearance struct {
	Page int // 1-based
	// Rect is llx, lly, urx, ury in the page's user space, in points, as
	// the PDF's /Rect; PageSize.RectFromView converts a box drawn on a
	// preview of the page.
	Rect     [4]float64
	Specimen []byte   // the signature specimen, PNG or JPEG
	Lines    []string // text under the specimen, e.g. the name and the time
}

// Options of Sign.
type Options struct {
	Signer      crypto.Signer // the subscriber's key (an HSM signer); ECDSA or RSA
	Certificate *x509.Certificate
	Chain       []*x509.Certificate // issuing CA first, then up to the root
	// OCSP is a DER OCSPResponse for Certificate, embedded in the
	// adbe-revocationInfoArchival signed attribute. Optional.
	OCSP        []byte
	Timestamper Timestamper // required: every signature is timestamped
	Name        string
	Reason      string
	Location    string
	ContactInfo string
	SigningTime time.Time   // claimed time (/M); zero means now
	Visible     *Appearance // nil for an invisible signature
}

// Appearance limits, in points and lines.
const (
	minBox   = 20
	maxLines = 4
	maxText  = 200 // characters per string option or line
)

// check validates o against the document described by info, defaulting
// SigningTime. Text goes through cleanText.
func (o *Options) check(info Info) error {
	switch {
	case o.Signer == nil || o.Certificate == nil:
		return errors.New("signing: a signer and its certificate are required")
	case o.Timestamper == nil:
		return errors.New("signing: a timestamper is required")
	}
	pub, ok := o.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(o.Certificate.PublicKey) {
		return errors.New("signing: the signer's public key is not the certificate's")
	}
	if o.SigningTime.IsZero() {
		o.SigningTime = time.Now()
	}
	if o.SigningTime.Before(o.Certificate.NotBefore) || o.SigningTime.After(o.Certificate.NotAfter) {
		return fmt.Errorf("signing: the certificate (valid %s to %s) is not valid at %s",
			o.Certificate.NotBefore.Format(time.RFC3339), o.Certificate.NotAfter.Format(time.RFC3339), o.SigningTime.Format(time.RFC3339))
	}
	for _, s := range []*string{&o.Name, &o.Reason, &o.Location, &o.ContactInfo} {
		*s = cleanText(*s, true)
	}
	a := o.Visible
	if a == nil {
		return nil
	}
	if a.Page < 1 || a.Page > info.Pages {
		return fmt.Errorf("%w: page %d of %d", ErrPlacement, a.Page, info.Pages)
	}
	p, r := info.PageSizes[a.Page-1], a.Rect
	for _, v := range r {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %v", ErrPlacement, r)
		}
	}
	const eps = 0.01
	if r[2]-r[0] < minBox || r[3]-r[1] < minBox || r[0] < p.X-eps || r[1] < p.Y-eps ||
		r[2] > p.X+p.Width+eps || r[3] > p.Y+p.Height+eps {
		return fmt.Errorf("%w: box %v on a %gx%g page at (%g, %g)", ErrPlacement, r, p.Width, p.Height, p.X, p.Y)
	}
	if len(a.Specimen) == 0 && len(a.Lines) == 0 {
		return fmt.Errorf("%w: neither a specimen nor text to show", ErrSpecimen)
	}
	if len(a.Lines) > maxLines {
		return fmt.Errorf("%w: %d text lines, at most %d", ErrPlacement, len(a.Lines), maxLines)
	}
	for i := range a.Lines {
		a.Lines[i] = cleanText(a.Lines[i], false)
	}
	return nil
}

// cleanText turns control characters into spaces and bounds the length.
// With pdf set it also makes s safe for pdfsign's PDF string writer, which
// escapes parentheses and backslashes only in ASCII strings and writes
// other text as raw UTF-16: in non-ASCII text the characters whose UTF-16
// code units hold the bytes ( ) \ or CR become '?'.
func cleanText(s string, pdf bool) string {
	ascii := true // or not written by pdfsign
	for _, r := range s {
		ascii = ascii && (!pdf || r < 0x80)
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxText {
			break
		}
		switch {
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			r = ' '
		case !ascii && r > 0xFFFF:
			r = '?'
		case !ascii && (badByte(byte(r)) || badByte(byte(r>>8))):
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

func badByte(c byte) bool { return c == '(' || c == ')' || c == '\\' || c == '\r' }
