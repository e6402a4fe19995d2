package identity

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var e164Mobile = regexp.MustCompile(`^\+628[0-9]{8,11}$`)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means ErrPhone
	}{
		{"081234567890", "+6281234567890"},
		{"0812-3456-7890", "+6281234567890"},
		{"0812 3456 7890", "+6281234567890"},
		{"0812.3456.7890", "+6281234567890"},
		{"(0812) 3456-7890", "+6281234567890"},
		{"+6281234567890", "+6281234567890"},
		{"+62 812-3456-7890", "+6281234567890"},
		{"(+62) 812 3456 7890", "+6281234567890"},
		{"6281234567890", "+6281234567890"},
		{"62 812 3456 7890", "+6281234567890"},
		{"0812345678", "+62812345678"},         // 10 digits with 0: shortest
		{"+62812345678", "+62812345678"},       // 9 after +62
		{"0812345678901", "+62812345678901"},   // 13 digits with 0: longest
		{"+62812345678901", "+62812345678901"}, // 12 after +62
		{"0895-1234-5678", "+6289512345678"},   // Tri
		{"0881 2345 6789", "+6288123456789"},   // Smartfren
		{" 0812 3456 7890 ", "+6281234567890"}, // surrounding spaces
		{"081234567", ""},                      // 9 digits with 0: too short
		{"+6281234567", ""},                    // 8 after +62
		{"08123456789012", ""},                 // 14 digits with 0: too long
		{"+628123456789012", ""},               // 13 after +62
		{"021-5551234", ""},                    // Jakarta landline
		{"0800-1234-5678", ""},                 // toll-free, not mobile
		{"+62809123456789", ""},                // unassigned 080x
		{"+62215551234", ""},                   // landline, international
		{"0227654321", ""},                     // Bandung landline
		{"+620812345678", ""},                  // trunk 0 kept after +62
		{"+62 (0) 812 3456 7890", ""},          // idem, written with (0)
		{"00626281234567890", ""},              // 00 international prefix
		{"006281234567890", ""},                // 00 international prefix
		{"81234567890", ""},                    // no prefix
		{"+6581234567", ""},                    // Singapore
		{"+1 812 345 6789", ""},                // not +62
		{"++6281234567890", ""},                // two plus signs
		{"0812+34567890", ""},                  // plus inside
		{"62+81234567890", ""},                 // plus after digits
		{"0812-3456-789O", ""},                 // letter O
		{"0812/3456/7890", ""},                 // slash
		{"0812_3456_7890", ""},                 // underscore
		{"０８１２３４５６７８９０", ""},                   // fullwidth digits
		{"0812\t3456\t7890", ""},               // tab is not a listed separator
		{"", ""},
		{"+", ""},
		{"+62", ""},
		{"0", ""},
		{"---", ""},
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrPhone) {
				t.Errorf("NormalizePhone(%q) = %q, %v; want ErrPhone", tt.in, got, err)
				continue
			}
			if got != "" {
				t.Errorf("NormalizePhone(%q) returned %q with an error", tt.in, got)
			}
			if MessageKey(err) != "phone.invalid" {
				t.Errorf("NormalizePhone(%q) key = %q", tt.in, MessageKey(err))
			}
			if longDigitRun.MatchString(err.Error()) {
				t.Errorf("NormalizePhone(%q) error text %q contains digits of the number", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !e164Mobile.MatchString(got) {
			t.Errorf("NormalizePhone(%q) = %q is not E.164 mobile", tt.in, got)
		}
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{
		"081234567890", "+62 812-3456-7890", "(0812) 3456.7890", "6281234567890",
		"021-5551234", "+620812345678", "++62812", "0812345678901", "", "+",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizePhone(s)
		if err != nil {
			if !errors.Is(err, ErrPhone) || got != "" {
				t.Fatalf("NormalizePhone(%q) = %q, %v", s, got, err)
			}
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q contains the input", err)
			}
			return
		}
		if !e164Mobile.MatchString(got) {
			t.Fatalf("NormalizePhone(%q) = %q, not E.164 mobile", s, got)
		}
		again, err := NormalizePhone(got)
		if err != nil || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, %v; not idempotent", got, again, err)
		}
	})
}
