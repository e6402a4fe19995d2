package hsm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func uriSlot(n uint) *uint { return &n }

// uriValidTests are URIs ParseURI accepts, with the expected result.
var uriValidTests = []struct {
	in   string
	want URI
}{
	{"pkcs11:token=ca;object=issuing-ca", URI{Token: "ca", Object: "issuing-ca"}},
	{"pkcs11:token=ca;id=%01%02", URI{Token: "ca", ID: []byte{1, 2}}},
	{
		"pkcs11:serial=1a2b3c;object=kek;type=secret-key?pin-source=file:/etc/appliance/pins/ca",
		URI{Serial: "1a2b3c", Object: "kek", Type: "secret-key", PINSource: "file:/etc/appliance/pins/ca"},
	},
	{"pkcs11:", URI{}},
	{"PKCS11:token=ca", URI{Token: "ca"}},
	{"PkCs11:token=ca", URI{Token: "ca"}},
	{
		"pkcs11:token=ca;serial=0123;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;slot-id=42;object=issuing-ca;id=%AB%cd;type=private" +
			"?pin-source=env:CA_PIN&module-name=softhsm2&module-path=/usr/lib/softhsm/libsofthsm2.so",
		URI{
			Token: "ca", Serial: "0123", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", SlotID: uriSlot(42),
			Object: "issuing-ca", ID: []byte{0xab, 0xcd}, Type: "private",
			PINSource: "env:CA_PIN", ModuleName: "softhsm2", ModulePath: "/usr/lib/softhsm/libsofthsm2.so",
		},
	},
	// Attribute order is free.
	{
		"pkcs11:type=cert;object=issuing-ca;token=ca?module-path=/opt/hsm/lib&pin-source=env:P",
		URI{Token: "ca", Object: "issuing-ca", Type: "cert", ModulePath: "/opt/hsm/lib", PINSource: "env:P"},
	},
	// pk11-path-res-avail bytes (including "=" and "&") may appear unencoded in the path.
	{"pkcs11:object=a:b[c]@!$'()*+,=d&e-f.g_h~i", URI{Object: "a:b[c]@!$'()*+,=d&e-f.g_h~i"}},
	// pk11-query-res-avail bytes ("/", "?", "|" but not "&") may appear unencoded in the query.
	{"pkcs11:?pin-source=file:/run/a?b|c:[]@!$'()*+,=d", URI{PINSource: "file:/run/a?b|c:[]@!$'()*+,=d"}},
	{"pkcs11:?module-path=/usr/lib/p11-kit-proxy.so", URI{ModulePath: "/usr/lib/p11-kit-proxy.so"}},
	// Percent-encoded delimiters, "%", space and UTF-8 (either hex case).
	{"pkcs11:object=a%3Bb%2Fc%3Fd%25e%20f%C3%A9%c3%a9%23", URI{Object: "a;b/c?d%e féé#"}},
	{"pkcs11:token=ca?module-name=a%26b%3Bc", URI{Token: "ca", ModuleName: "a&b;c"}},
	// id holds arbitrary bytes, encoded or not.
	{"pkcs11:id=ab", URI{ID: []byte("ab")}},
	{"pkcs11:id=%FF%00%80", URI{ID: []byte{0xff, 0, 0x80}}},
	{"pkcs11:id=%00", URI{ID: []byte{0}}},
	{"pkcs11:slot-id=0", URI{SlotID: uriSlot(0)}},
	{"pkcs11:slot-id=4294967295", URI{SlotID: uriSlot(4294967295)}},
	{"pkcs11:slot-id=007", URI{SlotID: uriSlot(7)}},
	{"pkcs11:slot-id=%31", URI{SlotID: uriSlot(1)}},
	{"pkcs11:type=private", URI{Type: "private"}},
	{"pkcs11:type=public", URI{Type: "public"}},
	{"pkcs11:type=secret-key", URI{Type: "secret-key"}},
	{"pkcs11:type=cert", URI{Type: "cert"}},
	{"pkcs11:type=data", URI{Type: "data"}},
	{"pkcs11:type=%63ert", URI{Type: "cert"}},
	{"pkcs11:token=ca?pin-source=file:pins/ca", URI{Token: "ca", PINSource: "file:pins/ca"}},
	{"pkcs11:token=ca?pin-source=file%3A%2Fx", URI{Token: "ca", PINSource: "file:/x"}},
	{"pkcs11:?pin-source=env:CA_PIN", URI{PINSource: "env:CA_PIN"}},
	{"pkcs11:token=ca?pin-source=env:X&module-name=m", URI{Token: "ca", PINSource: "env:X", ModuleName: "m"}},
	{"pkcs11:token=" + strings.Repeat("a", uriMaxLen-len("pkcs11:token=")), URI{Token: strings.Repeat("a", uriMaxLen-len("pkcs11:token="))}},
}

func TestParseURIValid(t *testing.T) {
	for _, tt := range uriValidTests {
		got, err := ParseURI(tt.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseURI(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
		}
	}
}

func TestURIRoundTrip(t *testing.T) {
	for _, tt := range uriValidTests {
		u, err := ParseURI(tt.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tt.in, err)
			continue
		}
		s := u.String()
		back, err := ParseURI(s)
		if err != nil {
			t.Errorf("ParseURI(%q) (String of %q): %v", s, tt.in, err)
			continue
		}
		if !reflect.DeepEqual(back, u) {
			t.Errorf("round trip of %q via %q\n got %#v\nwant %#v", tt.in, s, back, u)
		}
		if s2 := back.String(); s2 != s {
			t.Errorf("String not canonical for %q: %q then %q", tt.in, s, s2)
		}
	}
}

func TestURIString(t *testing.T) {
	tests := []struct {
		u    URI
		want string
	}{
		{URI{}, "pkcs11:"},
		{URI{Token: "ca", Object: "issuing-ca"}, "pkcs11:token=ca;object=issuing-ca"},
		{URI{Token: "ca", ID: []byte{1, 2}}, "pkcs11:token=ca;id=%01%02"},
		{URI{ID: []byte("ab")}, "pkcs11:id=%61%62"},
		{URI{ID: []byte{}}, "pkcs11:"},
		{
			URI{
				ModulePath: "/usr/lib/softhsm/libsofthsm2.so", ModuleName: "softhsm2", PINSource: "env:CA_PIN",
				Type: "private", ID: []byte{0xab}, Object: "issuing-ca", SlotID: uriSlot(42), Model: "m",
				Manufacturer: "SoftHSM project", Serial: "0123", Token: "ca",
			},
			"pkcs11:token=ca;serial=0123;manufacturer=SoftHSM%20project;model=m;slot-id=42;object=issuing-ca;id=%AB;type=private" +
				"?pin-source=env:CA_PIN&module-name=softhsm2&module-path=/usr/lib/softhsm/libsofthsm2.so",
		},
		{URI{Object: "a/b c;d?e&f=g%h#i:j|k"}, "pkcs11:object=a%2Fb%20c%3Bd%3Fe&f=g%25h%23i:j%7Ck"},
		{URI{PINSource: "file:/a b/c?d&e;f|g"}, "pkcs11:?pin-source=file:/a%20b/c?d%26e%3Bf|g"},
		{URI{Token: "é"}, "pkcs11:token=%C3%A9"},
		{URI{Token: "ca", ModuleName: "m"}, "pkcs11:token=ca?module-name=m"},
		{URI{SlotID: uriSlot(0)}, "pkcs11:slot-id=0"},
	}
	for _, tt := range tests {
		if got := tt.u.String(); got != tt.want {
			t.Errorf("%#v.String()\n got %q\nwant %q", tt.u, got, tt.want)
		}
	}
	// Canonicalisation of parsed input.
	canon := []struct{ in, want string }{
		{"PKCS11:object=issuing-ca;token=ca", "pkcs11:token=ca;object=issuing-ca"},
		{"pkcs11:id=ab;slot-id=007", "pkcs11:slot-id=7;id=%61%62"},
		{"pkcs11:object=%41%20b%2f%7e", "pkcs11:object=A%20b%2F~"},
		{"pkcs11:token=ca?module-path=/x&module-name=y&pin-source=env:P", "pkcs11:token=ca?pin-source=env:P&module-name=y&module-path=/x"},
	}
	for _, tt := range canon {
		u, err := ParseURI(tt.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tt.in, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("ParseURI(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestURIHasObject(t *testing.T) {
	tests := []struct {
		u    URI
		want bool
	}{
		{URI{}, false},
		{URI{Token: "ca", Type: "private"}, false},
		{URI{ID: []byte{}}, false},
		{URI{Object: "k"}, true},
		{URI{ID: []byte{0}}, true},
		{URI{Object: "k", ID: []byte{1}}, true},
	}
	for _, tt := range tests {
		if got := tt.u.HasObject(); got != tt.want {
			t.Errorf("%#v.HasObject() = %v, want %v", tt.u, got, tt.want)
		}
	}
}

// uriInvalidTests are URIs ParseURI rejects, with a substring of the error.
var uriInvalidTests = []struct {
	in   string
	want string
}{
	// Scheme.
	{"", `must start with "pkcs11:"`},
	{"pkcs11", `must start with "pkcs11:"`},
	{"token=ca;object=x", `must start with "pkcs11:"`},
	{"pkcs12:token=ca", `scheme "pkcs12" is not pkcs11`},
	{"file:/etc/appliance/pins/ca", `scheme "file" is not pkcs11`},
	{" pkcs11:token=ca", `scheme " pkcs11" is not pkcs11`},
	{"pkcs11://token=ca", `must not be followed by "/" or "//"`},
	{"pkcs11:/token=ca", `must not be followed by "/" or "//"`},
	{"pkcs11:token=ca#frag", `no fragment`},
	// Structure.
	{"pkcs11:token=ca;", "empty path attribute"},
	{"pkcs11:;token=ca", "empty path attribute"},
	{"pkcs11:token=ca;;object=x", "empty path attribute"},
	{"pkcs11:;", "empty path attribute"},
	{"pkcs11:token=ca?", `empty query after "?"`},
	{"pkcs11:?", `empty query after "?"`},
	{"pkcs11:token=ca?pin-source=env:X&", "empty query attribute"},
	{"pkcs11:token=ca?&pin-source=env:X", "empty query attribute"},
	{"pkcs11:token", `path attribute "token" has no "=": write token=value`},
	{"pkcs11:token=ca;object", `path attribute "object" has no "="`},
	{"pkcs11:token=ca;foo", `the path attribute at byte 16 has no "="`},
	{"pkcs11:token=ca?1234", `the query attribute at byte 16 has no "="`},
	{"pkcs11:=ca", "empty name"},
	{"pkcs11:token=ca?=x", "query attribute with an empty name"},
	{"pkcs11:token=", `path attribute "token" has an empty value`},
	{"pkcs11:token=ca;id=", `path attribute "id" has an empty value`},
	{"pkcs11:token=ca?pin-source=", `query attribute "pin-source" has an empty value`},
	{"pkcs11:token=ca?module-path=", `query attribute "module-path" has an empty value`},
	// Names.
	{"pkcs11:labl=x", `invalid PKCS#11 URI: unknown path attribute "labl" (known: id, library-description, library-manufacturer, library-version, manufacturer, model, object, serial, slot-description, slot-id, slot-manufacturer, token, type)`},
	{"pkcs11:label=x", `did you mean object=?`},
	{"pkcs11:Token=ca", `attribute names are lower-case: write token=`},
	{"pkcs11:x-vendor=1", `vendor-specific attributes are not supported`},
	{"pkcs11:token=ca?foo=bar", `unknown query attribute "foo" (known: module-name, module-path, pin-source, pin-value)`},
	{"pkcs11:token=ca?PIN-SOURCE=env:X", `write pin-source=`},
	{"pkcs11:token%3D=ca", `unknown path attribute "token%3D"`},
	{"pkcs11:library-manufacturer=SoftHSM", `"library-manufacturer" is not supported here`},
	{"pkcs11:library-description=x", `"library-description" is not supported here`},
	{"pkcs11:library-version=2.6", `"library-version" is not supported here`},
	{"pkcs11:slot-description=x", `"slot-description" is not supported here`},
	{"pkcs11:slot-manufacturer=x", `"slot-manufacturer" is not supported here`},
	{"pkcs11:token=ca?pin-value=1234", "PINs must never appear in URIs"},
	{"pkcs11:token=ca;pin-value=1234", "use pin-source"},
	{"pkcs11:token=ca?pin-value=", "PINs must never appear in URIs"},
	{"pkcs11:token=ca;pin-source=env:X", `"pin-source" is a query attribute, not a path attribute`},
	{"pkcs11:token=ca;module-path=/x", `"module-path" is a query attribute`},
	{"pkcs11:token=ca?object=x", `"object" is a path attribute, not a query attribute`},
	{"pkcs11:token=ca;token=cb", `duplicate path attribute "token"`},
	{"pkcs11:id=%01;token=ca;id=%01", `duplicate path attribute "id"`},
	{"pkcs11:token=ca?pin-source=env:A&pin-source=env:B", `duplicate query attribute "pin-source"`},
	// Percent-encoding.
	{"pkcs11:token=c%", `bad percent-encoding in the value of "token" at byte 1`},
	{"pkcs11:token=c%4", "bad percent-encoding"},
	{"pkcs11:token=c%4g", "bad percent-encoding"},
	{"pkcs11:token=c%g4", "bad percent-encoding"},
	{"pkcs11:token=%%41", "bad percent-encoding"},
	{"pkcs11:id=%0", "bad percent-encoding"},
	{"pkcs11:token=ca?pin-source=env:%", "bad percent-encoding"},
	{"pkcs11:token=ca?pin-source=env:%+1", "bad percent-encoding"},
	// Bytes that must be percent-encoded.
	{"pkcs11:object=a b", `character " " at byte 1 of the value of "object" must be percent-encoded: write %20`},
	{"pkcs11:object=a/b", `character "/" at byte 1 of the value of "object" must be percent-encoded: write %2F`},
	{"pkcs11:object=a/b", `may appear unencoded only in the query`},
	{"pkcs11:id=/", `write %2F`},
	{"pkcs11:object=\u00e9", `character "\xc3" at byte 0 of the value of "object" must be percent-encoded: write %C3`},
	{"pkcs11:object=a|b", `write %7C`},
	{"pkcs11:object=a\"b", `write %22`},
	{"pkcs11:object=a<b", `write %3C`},
	{"pkcs11:object=a>b", `write %3E`},
	{"pkcs11:object=a\\b", `write %5C`},
	{"pkcs11:object=a^b", `write %5E`},
	{"pkcs11:object=a`b", `write %60`},
	{"pkcs11:object=a{b", `write %7B`},
	{"pkcs11:object=a}b", `write %7D`},
	{"pkcs11:object=a\x00b", `write %00`},
	{"pkcs11:object=a\nb", `character "\n" at byte 1`},
	{"pkcs11:object=a\x7fb", `write %7F`},
	{"pkcs11:token=ca?pin-source=env:A;module-name=x", `query attributes are separated by "&", not ";"`},
	{"pkcs11:token=ca?module-path=/a b", `write %20`},
	{"pkcs11:token=ca?module-path=/a\"b", `write %22`},
	// UTF-8.
	{"pkcs11:object=%FF", `the value of "object" is not valid UTF-8`},
	{"pkcs11:token=%C3%28", `the value of "token" is not valid UTF-8`},
	{"pkcs11:serial=%C3", `the value of "serial" is not valid UTF-8`},
	{"pkcs11:token=ca?module-path=%FF", `the value of "module-path" is not valid UTF-8`},
	{"pkcs11:token=ca?pin-source=file:%FF", `the value of "pin-source" is not valid UTF-8`},
	// type.
	{"pkcs11:type=secret", `type "secret" is not valid: use one of private, public, secret-key, cert, data`},
	{"pkcs11:type=Cert", `type "Cert" is not valid`},
	{"pkcs11:type=private-key", `type "private-key" is not valid`},
	{"pkcs11:type=%FFx", "not valid UTF-8"},
	// slot-id.
	{"pkcs11:slot-id=-1", `slot-id "-1" is not a decimal number`},
	{"pkcs11:slot-id=+1", `slot-id "+1" is not a decimal number`},
	{"pkcs11:slot-id=%2B1", `slot-id "+1" is not a decimal number`},
	{"pkcs11:slot-id=0x10", `slot-id "0x10" is not a decimal number`},
	{"pkcs11:slot-id=1.0", `not a decimal number`},
	{"pkcs11:slot-id=1_0", `not a decimal number`},
	{"pkcs11:slot-id=%201", `not a decimal number`},
	{"pkcs11:slot-id=4294967296", `slot-id "4294967296" does not fit in 32 bits`},
	{"pkcs11:slot-id=99999999999999999999999", `does not fit in 32 bits`},
	// pin-source.
	{"pkcs11:token=ca?pin-source=1234", "pin-source must start with file: (a file holding the PIN"},
	{"pkcs11:token=ca?pin-source=prompt", "pin-source must start with file:"},
	{"pkcs11:token=ca?pin-source=FILE:/x", "pin-source must start with file:"},
	{"pkcs11:token=ca?pin-source=/etc/appliance/pins/ca", "pin-source must start with file:"},
	{"pkcs11:token=ca?pin-source=file:", "pin-source file: needs a path"},
	{"pkcs11:token=ca?pin-source=env:", "pin-source env: needs a variable name"},
	{"pkcs11:token=ca?pin-source=env%3A", "pin-source env: needs a variable name"},
	// Length.
	{"pkcs11:object=" + strings.Repeat("a", uriMaxLen), "over the 4096-byte limit"},
	{"pkcs11:token=" + strings.Repeat("a", uriMaxLen-len("pkcs11:token=")+1), "4097 bytes, over the 4096-byte limit"},
	{"pkcs11:id=" + strings.Repeat("a", 2000), "in canonical form"},
}

func TestParseURIInvalid(t *testing.T) {
	for _, tt := range uriInvalidTests {
		u, err := ParseURI(tt.in)
		if err == nil {
			t.Errorf("ParseURI(%q) = %#v, want error containing %q", tt.in, u, tt.want)
			continue
		}
		if !errors.Is(err, ErrInvalidURI) {
			t.Errorf("ParseURI(%q) error %q does not wrap ErrInvalidURI", tt.in, err)
		}
		if !strings.HasPrefix(err.Error(), "invalid PKCS#11 URI: ") {
			t.Errorf("ParseURI(%q) error %q does not start with %q", tt.in, err, "invalid PKCS#11 URI: ")
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseURI(%q) error\n %q\ndoes not contain\n %q", tt.in, err, tt.want)
		}
		if !reflect.DeepEqual(u, URI{}) {
			t.Errorf("ParseURI(%q) returned %#v with an error, want the zero URI", tt.in, u)
		}
	}
}

// TestParseURISecretsNotEchoed checks that values that may be a PIN written
// in the wrong place do not end up in error messages (which get logged).
func TestParseURISecretsNotEchoed(t *testing.T) {
	const secret = "s3cr3tPIN"
	for _, in := range []string{
		"pkcs11:token=ca?pin-value=" + secret,
		"pkcs11:token=ca;pin-value=" + secret,
		"pkcs11:token=ca?pin-source=" + secret,
		"pkcs11:token=ca?pin-source=" + secret + "%",
		"pkcs11:token=ca?pin-source=" + secret + "%zz",
		"pkcs11:token=ca?pin-source=" + secret + "%FF",
		"pkcs11:token=ca?pin-source=" + secret + " x",
		"pkcs11:token=ca?" + secret,
		"pkcs11:token=ca;" + secret,
		"pkcs11:token=ca?pin-value=" + secret + "&pin-value=" + secret,
		"pkcs11:token=ca#" + secret,
		"pkcs12:x=" + secret,
		secret,
	} {
		_, err := ParseURI(in)
		if err == nil {
			t.Errorf("ParseURI(%q) succeeded", in)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr") {
			t.Errorf("ParseURI(%q) error echoes the secret: %v", in, err)
		}
	}
}
