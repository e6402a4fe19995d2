package hsm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalidURI is wrapped by every error ParseURI returns.
var ErrInvalidURI = errors.New("invalid PKCS#11 URI")

// URI is a parsed RFC 7512 PKCS#11 URI naming a token and, optionally, an object on it.
type URI struct {
	Token        string // token= (CKA token label)
	Serial       string // serial= (token serial number)
	Manufacturer string // manufacturer=
	Model        string // model=
	SlotID       *uint  // slot-id=
	Object       string // object= (CKA_LABEL)
	ID           []byte // id= (CKA_ID, raw bytes)
	Type         string // type=: "private", "public", "secret-key", "cert" or "data"
	PINSource    string // ?pin-source= (e.g. "file:/path" or "env:NAME")
	ModulePath   string // ?module-path= (directory or file of the PKCS#11 module)
	ModuleName   string // ?module-name=
}

// uriMaxLen bounds a URI both as written and in canonical form (String).
const uriMaxLen = 4096

const uriScheme = "pkcs11:"

// uriExample is shown in errors as the shape of a correct URI.
const uriExample = "pkcs11:token=ca;object=issuing-ca?pin-source=file:/etc/appliance/pins/ca"

// The attribute names RFC 7512 defines, sorted, as listed in errors.
var (
	uriPathNames  = []string{"id", "library-description", "library-manufacturer", "library-version", "manufacturer", "model", "object", "serial", "slot-description", "slot-id", "slot-manufacturer", "token", "type"}
	uriQueryNames = []string{"module-name", "module-path", "pin-source", "pin-value"}
)

// uriTypes are the values RFC 7512 allows for type=.
var uriTypes = []string{"private", "public", "secret-key", "cert", "data"}

// uriHints maps names people write by mistake to the attribute they meant.
var uriHints = map[string]string{
	"label":       "object",
	"key":         "object",
	"slot":        "slot-id",
	"pin":         "pin-source",
	"pin-file":    "pin-source",
	"module":      "module-path",
	"library":     "module-path",
	"token-label": "token",
}

// uriPathChars and uriQueryChars are the bytes that may appear unencoded in
// a path or query attribute value (RFC 7512 section 2.3):
//
//	pk11-pchar           = pk11-unreserved / pk11-path-res-avail / pct-encoded
//	pk11-qchar           = pk11-unreserved / pk11-query-res-avail / pct-encoded
//	pk11-unreserved      = ALPHA / DIGIT / "-" / "." / "_" / "~"
//	pk11-res-avail       = ":" / "[" / "]" / "@" / "!" / "$" / "'" / "(" / ")" / "*" / "+" / "," / "="
//	pk11-path-res-avail  = pk11-res-avail / "&"
//	pk11-query-res-avail = pk11-res-avail / "/" / "?" / "|"
//
// Note that "/" is allowed unencoded only in the query.
var (
	uriPathChars  = uriCharTable(":[]@!$'()*+,=&")
	uriQueryChars = uriCharTable(":[]@!$'()*+,=/?|")
)

func uriCharTable(extra string) *[256]bool {
	var t [256]bool
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("-._~" + extra) {
		t[c] = true
	}
	return &t
}

func uriErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidURI}, args...)...)
}

// uriQuote quotes s for an error message, shortening it if it is long.
func uriQuote(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.QuoteToASCII(s[:limit]) + "..."
	}
	return strconv.QuoteToASCII(s)
}

// ParseURI parses a PKCS#11 URI as defined by RFC 7512, e.g.
// "pkcs11:token=ca;object=issuing-ca?pin-source=file:/etc/appliance/pins/ca".
//
// Parsing is strict: unknown, unsupported, duplicated or empty attributes,
// bytes that must be percent-encoded but are not, malformed percent-encoding,
// values that are not UTF-8 (except id), unknown type= values, slot-id values
// that are not a decimal uint32, pin-source values other than file:PATH or
// env:NAME, and pin-value are all rejected. The URI may be at most 4096 bytes,
// both as written and in canonical form (see URI.String). Every error wraps
// ErrInvalidURI and never quotes the whole URI, so that it is safe to log.
func ParseURI(s string) (URI, error) {
	var u URI
	if len(s) > uriMaxLen {
		return URI{}, uriErrorf("URI is %d bytes, over the %d-byte limit; shorten the attribute values", len(s), uriMaxLen)
	}
	if !uriHasScheme(s) {
		if i := strings.IndexByte(s, ':'); i > 0 && i <= 32 {
			return URI{}, uriErrorf("scheme %s is not pkcs11: write a PKCS#11 URI such as %s", uriQuote(s[:i]), uriExample)
		}
		return URI{}, uriErrorf("URI must start with %q, e.g. %s", uriScheme, uriExample)
	}
	rest := s[len(uriScheme):]
	if strings.HasPrefix(rest, "/") {
		return URI{}, uriErrorf(`"pkcs11:" must not be followed by "/" or "//" (a PKCS#11 URI has no authority or absolute path): write %s`, uriExample)
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return URI{}, uriErrorf(`a PKCS#11 URI has no fragment: "#" at byte %d must be percent-encoded as %%23 if it is part of a value`, len(uriScheme)+i)
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	if path != "" {
		if err := uriParseAttrs(&u, path, len(uriScheme), false); err != nil {
			return URI{}, err
		}
	}
	if hasQuery {
		if query == "" {
			return URI{}, uriErrorf(`empty query after "?": remove the "?" or add query attributes such as ?pin-source=file:/etc/appliance/pins/ca`)
		}
		if err := uriParseAttrs(&u, query, len(uriScheme)+len(path)+1, true); err != nil {
			return URI{}, err
		}
	}
	// An id written with unencoded bytes grows threefold in canonical
	// form; keep String's result parseable.
	if n := len(u.String()); n > uriMaxLen {
		return URI{}, uriErrorf("URI is %d bytes in canonical form (id= fully percent-encoded), over the %d-byte limit; shorten the attribute values", n, uriMaxLen)
	}
	return u, nil
}

// uriHasScheme reports whether s starts with "pkcs11:", ignoring ASCII case.
func uriHasScheme(s string) bool {
	if len(s) < len(uriScheme) {
		return false
	}
	for i := 0; i < len(uriScheme); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != uriScheme[i] {
			return false
		}
	}
	return true
}

// uriParseAttrs parses the path (query false) or query (query true)
// component into u. off is the byte offset of comp in the URI.
func uriParseAttrs(u *URI, comp string, off int, query bool) error {
	kind, sep, example := "path", ";", "token=ca;object=issuing-ca"
	if query {
		kind, sep, example = "query", "&", "pin-source=file:/etc/appliance/pins/ca&module-path=/usr/lib/softhsm/libsofthsm2.so"
	}
	seen := make(map[string]bool)
	for i, seg := range strings.Split(comp, sep) {
		if i > 0 {
			off++ // the separator
		}
		segOff := off
		off += len(seg)
		if seg == "" {
			return uriErrorf("empty %s attribute (a %q at the start or end, or two in a row): write name=value pairs separated by a single %q, e.g. %s", kind, sep, sep, example)
		}
		name, raw, ok := strings.Cut(seg, "=")
		if !ok {
			// Quote the segment only if it is an attribute name: it
			// might otherwise be a secret written in the wrong place.
			if uriContains(uriPathNames, seg) || uriContains(uriQueryNames, seg) {
				return uriErrorf("%s attribute %q has no \"=\": write %s=value", kind, seg, seg)
			}
			return uriErrorf("the %s attribute at byte %d has no \"=\": write name=value, e.g. %s", kind, segOff, example)
		}
		if name == "" {
			return uriErrorf("%s attribute with an empty name (%q with nothing before it): write name=value, e.g. %s", kind, "=", example)
		}
		if err := uriCheckName(name, query); err != nil {
			return err
		}
		if seen[name] {
			return uriErrorf("duplicate %s attribute %q: each attribute may appear only once; remove all but one", kind, name)
		}
		seen[name] = true
		if raw == "" {
			return uriErrorf("%s attribute %q has an empty value: give a value (e.g. %s) or leave the attribute out", kind, name, example)
		}
		val, err := uriUnescape(name, raw, query)
		if err != nil {
			return err
		}
		if err := uriSet(u, name, val); err != nil {
			return err
		}
	}
	return nil
}

// uriCheckName rejects names that are unknown, unsupported, in the wrong
// component, or pin-value.
func uriCheckName(name string, query bool) error {
	kind, known, other := "path", uriPathNames, uriQueryNames
	if query {
		kind, known, other = "query", uriQueryNames, uriPathNames
	}
	switch name {
	case "pin-value":
		return uriErrorf("pin-value is not accepted: PINs must never appear in URIs, configuration or command lines; use pin-source=file:/path (a file readable only by the appliance) or pin-source=env:NAME instead")
	case "library-description", "library-manufacturer", "library-version":
		return uriErrorf("attribute %q is not supported here: select the PKCS#11 module with ?module-path= (or ?module-name=) and the token with token=, serial=, manufacturer=, model= or slot-id=", name)
	case "slot-description", "slot-manufacturer":
		return uriErrorf("attribute %q is not supported here: select the token with token=, serial=, manufacturer=, model= or slot-id=", name)
	}
	if uriContains(known, name) {
		return nil
	}
	if uriContains(other, name) {
		if query {
			return uriErrorf("%q is a path attribute, not a query attribute: put it before the \"?\", separated by \";\", e.g. pkcs11:token=ca;object=issuing-ca?pin-source=file:/path", name)
		}
		return uriErrorf("%q is a query attribute, not a path attribute: put it after a \"?\" and separate query attributes with \"&\", e.g. pkcs11:token=ca?%s=...", name, name)
	}
	hint := ""
	if lower := strings.ToLower(name); lower != name && (uriContains(uriPathNames, lower) || uriContains(uriQueryNames, lower)) {
		hint = fmt.Sprintf("; attribute names are lower-case: write %s=", lower)
	} else if h, ok := uriHints[lower]; ok {
		hint = fmt.Sprintf("; did you mean %s=?", h)
	} else if strings.HasPrefix(lower, "x-") {
		hint = "; vendor-specific attributes are not supported"
	}
	return uriErrorf("unknown %s attribute %s (known: %s)%s", kind, uriQuote(name), strings.Join(known, ", "), hint)
}

func uriContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// uriUnescape checks raw against the RFC 7512 grammar for the component
// and percent-decodes it. Errors name the offending byte and its position
// but never quote the value, which might be a mistyped secret.
func uriUnescape(name, raw string, query bool) (string, error) {
	allowed := uriPathChars
	if query {
		allowed = uriQueryChars
	}
	var b []byte // allocated on the first %XX
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) || !uriIsHex(raw[i+1]) || !uriIsHex(raw[i+2]) {
				return "", uriErrorf(`bad percent-encoding in the value of %q at byte %d: "%%" must be followed by two hex digits (write a literal "%%" as %%25)`, name, i)
			}
			if b == nil {
				b = make([]byte, 0, len(raw))
				b = append(b, raw[:i]...)
			}
			b = append(b, uriUnhex(raw[i+1])<<4|uriUnhex(raw[i+2]))
			i += 2
			continue
		}
		if !allowed[c] {
			hint := ""
			switch {
			case c == ';' && query:
				hint = ` (query attributes are separated by "&", not ";")`
			case c == '/' && !query:
				hint = ` ("/" may appear unencoded only in the query part, after "?")`
			}
			return "", uriErrorf("character %s at byte %d of the value of %q must be percent-encoded: write %%%02X%s", strconv.QuoteToASCII(string([]byte{c})), i, name, c, hint)
		}
		if b != nil {
			b = append(b, c)
		}
	}
	if b == nil {
		return raw, nil
	}
	return string(b), nil
}

func uriIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func uriUnhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// uriSet stores the decoded value of a known, supported attribute.
func uriSet(u *URI, name, val string) error {
	if name == "id" {
		u.ID = []byte(val)
		return nil
	}
	if !utf8.ValidString(val) {
		return uriErrorf("the value of %q is not valid UTF-8 after percent-decoding: percent-encode the UTF-8 bytes of the text (e.g. %%C3%%A9 for \"\u00e9\"); only id= may hold arbitrary bytes", name)
	}
	switch name {
	case "token":
		u.Token = val
	case "serial":
		u.Serial = val
	case "manufacturer":
		u.Manufacturer = val
	case "model":
		u.Model = val
	case "object":
		u.Object = val
	case "type":
		if !uriContains(uriTypes, val) {
			return uriErrorf("type %s is not valid: use one of %s", uriQuote(val), strings.Join(uriTypes, ", "))
		}
		u.Type = val
	case "slot-id":
		for i := 0; i < len(val); i++ {
			if val[i] < '0' || val[i] > '9' {
				return uriErrorf("slot-id %s is not a decimal number: write digits only, without sign, e.g. slot-id=0", uriQuote(val))
			}
		}
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return uriErrorf("slot-id %s does not fit in 32 bits: the largest slot-id is 4294967295", uriQuote(val))
		}
		id := uint(n)
		u.SlotID = &id
	case "pin-source":
		// Never quote the value: it may be a PIN given by mistake.
		switch {
		case val == "file:":
			return uriErrorf("pin-source file: needs a path after it, e.g. pin-source=file:/etc/appliance/pins/ca")
		case val == "env:":
			return uriErrorf("pin-source env: needs a variable name after it, e.g. pin-source=env:CA_PIN")
		case !strings.HasPrefix(val, "file:") && !strings.HasPrefix(val, "env:"):
			return uriErrorf("pin-source must start with file: (a file holding the PIN, e.g. pin-source=file:/etc/appliance/pins/ca) or env: (an environment variable, e.g. pin-source=env:CA_PIN)")
		}
		u.PINSource = val
	case "module-name":
		u.ModuleName = val
	case "module-path":
		u.ModulePath = val
	}
	return nil
}

// String returns u in canonical form, which ParseURI accepts and parses back
// to u (for any u ParseURI returned). Path attributes come in the order token,
// serial, manufacturer, model, slot-id, object, id, type, then the query
// attributes pin-source, module-name, module-path. Empty fields are left out.
// id is fully percent-encoded; other values percent-encode (with upper-case
// hex digits) every byte RFC 7512 does not allow unencoded in that component.
func (u URI) String() string {
	var b strings.Builder
	b.WriteString(uriScheme)
	n := 0
	path := func(name, val string) {
		if val == "" {
			return
		}
		if n > 0 {
			b.WriteByte(';')
		}
		n++
		b.WriteString(name)
		b.WriteByte('=')
		uriEscape(&b, val, uriPathChars)
	}
	path("token", u.Token)
	path("serial", u.Serial)
	path("manufacturer", u.Manufacturer)
	path("model", u.Model)
	if u.SlotID != nil {
		path("slot-id", strconv.FormatUint(uint64(*u.SlotID), 10))
	}
	path("object", u.Object)
	if len(u.ID) > 0 {
		if n > 0 {
			b.WriteByte(';')
		}
		n++
		b.WriteString("id=")
		for _, c := range u.ID {
			uriWriteHex(&b, c)
		}
	}
	path("type", u.Type)

	n = 0
	query := func(name, val string) {
		if val == "" {
			return
		}
		if n > 0 {
			b.WriteByte('&')
		} else {
			b.WriteByte('?')
		}
		n++
		b.WriteString(name)
		b.WriteByte('=')
		uriEscape(&b, val, uriQueryChars)
	}
	query("pin-source", u.PINSource)
	query("module-name", u.ModuleName)
	query("module-path", u.ModulePath)
	return b.String()
}

func uriEscape(b *strings.Builder, s string, allowed *[256]bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; allowed[c] {
			b.WriteByte(c)
		} else {
			uriWriteHex(b, c)
		}
	}
}

func uriWriteHex(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0xF])
}

// HasObject reports whether u names an object (object= or id=) rather than
// only a token.
func (u URI) HasObject() bool {
	return u.Object != "" || len(u.ID) > 0
}
