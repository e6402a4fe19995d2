package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"
)

// Errors returned by ParseNIK. Each failure wraps exactly one of them.
var (
	ErrNIKLength        = errors.New("identity: NIK must have exactly 16 digits")
	ErrNIKNotDigits     = errors.New("identity: NIK must contain only the digits 0-9")
	ErrNIKProvince      = errors.New("identity: NIK province code is unknown")
	ErrNIKRegion        = errors.New("identity: NIK regency or district code is 00")
	ErrNIKDate          = errors.New("identity: NIK birth date is impossible")
	ErrNIKBirthMismatch = errors.New("identity: NIK birth date does not match the birth date given")
	ErrNIKSerial        = errors.New("identity: NIK serial number is all zeros")
	ErrNIKAge           = errors.New("identity: applicant is not old enough")
)

// MinAge is the minimum age of an applicant in whole years: the age from
// which a KTP is issued. People who married younger also hold a KTP; they are
// refused all the same.
const MinAge = 17

// nikLen is the number of digits in a NIK: PP RR DD ddmmyy SSSS.
const nikLen = 16

// NIK is a parsed Nomor Induk Kependudukan. Its String, GoString and
// LogValue methods redact all but the province code, so that printing or
// logging a NIK does not leak it; use Digits for the full number.
type NIK struct {
	Province  string    // two-digit Kemendagri province code, e.g. "32"
	Regency   string    // two-digit regency (kabupaten/kota) code within Province, e.g. "01"
	District  string    // two-digit district (kecamatan) code within Regency
	BirthDate time.Time // the birth date, at midnight UTC
	Female    bool      // the day of birth is written plus 40
	Serial    string    // four-digit serial number, never "0000"
}

// ParseNIK checks the 16-digit NIK s against the birth date the applicant
// entered and returns its fields.
//
// s must be exactly 16 ASCII digits: PP RR DD ddmmyy SSSS. PP must be one of
// the 38 province codes (see ProvinceName); RR and DD must not be 00 (they
// are not checked against a table); dd is the day of birth, plus 40 for
// women, and with mm and yy must form a possible date; SSSS must not be 0000.
//
// The NIK holds only two digits of the year, so the century is taken from
// birthDate: yy must equal birthDate's year modulo 100 and dd/mm must equal
// its day and month (in birthDate's location; the time of day is ignored).
// Finally the birth date must not lie after now's calendar date and the
// applicant must be at least MinAge years old on that date; someone born on
// 29 February turns 17 on 1 March in a non-leap year.
//
// Error texts never contain s or the birth date.
func ParseNIK(s string, birthDate, now time.Time) (NIK, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return NIK{}, fmt.Errorf("%w: character %d is not a digit",
				ErrNIKNotDigits, utf8.RuneCountInString(s[:i])+1)
		}
	}
	if len(s) != nikLen {
		return NIK{}, fmt.Errorf("%w: got %d digits", ErrNIKLength, len(s))
	}
	n := NIK{Province: s[0:2], Regency: s[2:4], District: s[4:6], Serial: s[12:16]}
	if _, ok := provinces[n.Province]; !ok {
		return NIK{}, ErrNIKProvince
	}
	if n.Regency == "00" {
		return NIK{}, fmt.Errorf("%w: regency code is 00", ErrNIKRegion)
	}
	if n.District == "00" {
		return NIK{}, fmt.Errorf("%w: district code is 00", ErrNIKRegion)
	}
	if n.Serial == "0000" {
		return NIK{}, ErrNIKSerial
	}

	day, month, yy := atoi2(s[6:8]), atoi2(s[8:10]), atoi2(s[10:12])
	if day > 40 {
		n.Female = true
		day -= 40
	}
	if month < 1 || month > 12 {
		return NIK{}, fmt.Errorf("%w: month is not 01-12", ErrNIKDate)
	}
	if day < 1 || day > daysIn(month, yy) {
		return NIK{}, fmt.Errorf("%w: no such day in that month (women add 40 to the day)", ErrNIKDate)
	}

	by, bm, bd := birthDate.Date()
	if by%100 != yy || int(bm) != month || bd != day {
		return NIK{}, ErrNIKBirthMismatch
	}
	n.BirthDate = time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)

	ny, nm, nd := now.Date()
	today := time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC)
	if n.BirthDate.After(today) {
		return NIK{}, fmt.Errorf("%w: birth date is in the future", ErrNIKAge)
	}
	if n.BirthDate.AddDate(MinAge, 0, 0).After(today) {
		return NIK{}, fmt.Errorf("%w: younger than %d", ErrNIKAge, MinAge)
	}
	return n, nil
}

// Digits returns the 16-digit NIK. It is personal data: do not log it.
func (n NIK) Digits() string {
	_, m, d := n.BirthDate.Date()
	if n.Female {
		d += 40
	}
	return fmt.Sprintf("%s%s%s%02d%02d%02d%s", n.Province, n.Regency, n.District,
		d, int(m), n.BirthDate.Year()%100, n.Serial)
}

// String returns the province code followed by asterisks, so that a NIK
// printed with %v or %s does not leak.
func (n NIK) String() string {
	if n.Province == "" {
		return "NIK(empty)"
	}
	return n.Province + "**************"
}

// GoString redacts like String, for %#v.
func (n NIK) GoString() string { return "identity.NIK(" + n.String() + ")" }

// LogValue redacts like String when a NIK is logged with log/slog.
func (n NIK) LogValue() slog.Value { return slog.StringValue(n.String()) }

// atoi2 converts two ASCII digits, already checked, to an int.
func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// daysIn returns the number of days of month in a year ending in the two
// digits yy. 29 February is possible whenever yy is a multiple of 4: for
// yy = 00 the year may be 2000, which is a leap year. birthDate settles the
// century afterwards.
func daysIn(month, yy int) int {
	switch month {
	case 2:
		if yy%4 == 0 {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
