package hsm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseURI checks that ParseURI never panics, that every error wraps
// ErrInvalidURI, and that every URI it accepts survives
// String -> ParseURI unchanged, with String canonical and within the limit.
func FuzzParseURI(f *testing.F) {
	for _, tt := range uriValidTests {
		f.Add(tt.in)
	}
	for _, tt := range uriInvalidTests {
		f.Add(tt.in)
	}
	f.Add("pkcs11:token=ca;object=issuing-ca")
	f.Add("pkcs11:token=ca;id=%01%02")
	f.Add("pkcs11:serial=1a2b3c;object=kek;type=secret-key?pin-source=file:/etc/appliance/pins/ca")
	f.Add("pkcs11:id=" + strings.Repeat("a", 1300))
	f.Add("pkcs11:object=%E2%82%AC;id=%e2%82%ac&x?module-name=a?b|c/d")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidURI) {
				t.Fatalf("ParseURI(%q): error %q does not wrap ErrInvalidURI", s, err)
			}
			if !reflect.DeepEqual(u, URI{}) {
				t.Fatalf("ParseURI(%q): non-zero URI %#v returned with error %v", s, u, err)
			}
			return
		}
		if u.ID != nil && len(u.ID) == 0 {
			t.Fatalf("ParseURI(%q): empty non-nil ID", s)
		}
		c := u.String()
		if len(c) > uriMaxLen {
			t.Fatalf("ParseURI(%q).String() is %d bytes, over the limit", s, len(c))
		}
		back, err := ParseURI(c)
		if err != nil {
			t.Fatalf("ParseURI(%q) = %#v, but its String %q does not parse: %v", s, u, c, err)
		}
		if !reflect.DeepEqual(back, u) {
			t.Fatalf("round trip of %q via %q:\n got %#v\nwant %#v", s, c, back, u)
		}
		if c2 := back.String(); c2 != c {
			t.Fatalf("String not canonical for %q: %q then %q", s, c, c2)
		}
	})
}
