package signing

import "errors"

// Errors of Inspect and Sign. Each has a key in the portal's message
// catalogs (see MessageKey); the wrapped detail is for logs only.
var (
	ErrNotPDF       = errors.New("signing: the file is not a PDF")
	ErrEncrypted    = errors.New("signing: the PDF is encrypted or password-protected")
	ErrBroken       = errors.New("signing: the PDF is damaged and cannot be read")
	ErrTooLarge     = errors.New("signing: the PDF is too large")
	ErrTooManyPages = errors.New("signing: the PDF has too many pages")
	ErrPlacement    = errors.New("signing: the signature box does not fit on the chosen page")
	ErrSpecimen     = errors.New("signing: the signature specimen image cannot be used")
	ErrTimestamp    = errors.New("signing: the timestamp authority did not give a usable timestamp")
	ErrRevoked      = errors.New("signing: the certificate is revoked or its status is unknown")
	ErrNoSignature  = errors.New("signing: the PDF has no signature")
	ErrInvalid      = errors.New("signing: the signature does not match the document")
)

var messageKeys = []struct {
	err error
	key string
}{
	{ErrNotPDF, "signing.not_pdf"},
	{ErrEncrypted, "signing.encrypted"},
	{ErrBroken, "signing.broken"},
	{ErrTooLarge, "signing.too_large"},
	{ErrTooManyPages, "signing.too_many_pages"},
	{ErrPlacement, "signing.placement"},
	{ErrSpecimen, "signing.specimen"},
	{ErrTimestamp, "signing.timestamp"},
	{ErrRevoked, "signing.revoked"},
	{ErrNoSignature, "signing.no_signature"},
	{ErrInvalid, "signing.invalid"},
}

// MessageKey returns the message-catalog key of the sentinel that err wraps,
// for example "signing.encrypted", or "" if err is nil or wraps none of them.
func MessageKey(err error) string {
	for _, mk := range messageKeys {
		if err != nil && errors.Is(err, mk.err) {
			return mk.key
		}
	}
	return ""
}
