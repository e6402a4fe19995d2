package identity

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPhone is wrapped by every error of NormalizePhone.
var ErrPhone = errors.New("identity: not an Indonesian mobile number")

// Lengths of the subscriber part of an Indonesian mobile number: the digits
// after the country code 62, starting with 8. Written nationally with the
// leading 0 a mobile number has 10 to 13 digits.
const (
	minSubscriberDigits = 9
	maxSubscriberDigits = 12
)

// phoneSeparators are the characters people put between digit groups; they
// are dropped before the number is checked.
const phoneSeparators = " -.()"

// NormalizePhone returns the Indonesian mobile number s in E.164 form,
// "+628...". s may be written nationally (08...), internationally (+628...)
// or with the country code but without the plus (628...), and may contain
// ASCII spaces (not tabs), dashes, dots and parentheses, which are dropped.
// After the country code 62 there must be 9 to 12 digits starting with 8
// (mobile). Anything else, including other international prefixes such as
// 0062, landline numbers and non-ASCII digits, is refused with an error
// wrapping ErrPhone.
//
// Error texts never contain s.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(phoneSeparators, c) >= 0:
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '+' && b.Len() == 0: // only before the first digit
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("%w: contains a character other than digits, +, spaces, dashes, dots and parentheses, or a misplaced +", ErrPhone)
		}
	}
	d := b.String()
	var sub string
	switch {
	case strings.HasPrefix(d, "+62"):
		sub = d[3:]
	case strings.HasPrefix(d, "62"):
		sub = d[2:]
	case strings.HasPrefix(d, "0"):
		sub = d[1:]
	default:
		return "", fmt.Errorf("%w: must start with 08, +628 or 628", ErrPhone)
	}
	if !strings.HasPrefix(sub, "8") {
		return "", fmt.Errorf("%w: not a mobile number (must start with 08, +628 or 628)", ErrPhone)
	}
	// Mobile prefixes run 0811..0899; 080x are toll-free or unassigned and
	// cannot receive the activation SMS.
	if len(sub) > 1 && sub[1] == '0' {
		return "", fmt.Errorf("%w: 080x numbers are not mobile numbers", ErrPhone)
	}
	if len(sub) < minSubscriberDigits || len(sub) > maxSubscriberDigits {
		return "", fmt.Errorf("%w: must have %d to %d digits after +62",
			ErrPhone, minSubscriberDigits, maxSubscriberDigits)
	}
	return "+62" + sub, nil
}
