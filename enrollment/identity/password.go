package identity

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors returned by CheckPassword. Each failure wraps exactly one of them.
var (
	ErrPasswordShort            = errors.New("identity: password is too short")
	ErrPasswordLong             = errors.New("identity: password is too long")
	ErrPasswordContainsPersonal = errors.New("identity: password contains personal data")
	ErrPasswordCommon           = errors.New("identity: password is too common")
)

// Length limits of a password, in characters (runes).
const (
	MinPasswordLen = 10
	MaxPasswordLen = 128
)

// commonPasswordsTxt is a small hand-made list of well-known common passwords
// (English classics, keyboard walks, digit sequences and Indonesian ones),
// one per line; blank lines and lines starting with '#' are ignored. It
// should be replaced by a maintained list such as the SecLists top-10k
// (Passwords/Common-Credentials). Entries shorter than MinPasswordLen can
// never match while that minimum holds; they are kept so the list stays
// right if the minimum changes.
//
//go:embed common_passwords.txt
var commonPasswordsTxt string

// commonPasswords is commonPasswordsTxt as a set of lowercase entries.
var commonPasswords = parseCommonPasswords(commonPasswordsTxt)

func parseCommonPasswords(txt string) map[string]struct{} {
	set := make(map[string]struct{})
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
}

// CheckPassword checks the password pw chosen by the applicant with the
// given username, NIK and birth date. pw must have MinPasswordLen to
// MaxPasswordLen characters; must not contain the username (ignoring case,
// and only if the username has at least 3 characters), the NIK, or the birth
// date written DDMMYYYY, YYYYMMDD, DDMMYY or YYYY-MM-DD; and must not be, ignoring
// case, on the bundled list of common passwords. An empty nik or a zero
// birthDate skips that check.
//
// Error texts never contain pw or the personal data.
func CheckPassword(pw, username, nik string, birthDate time.Time) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return fmt.Errorf("%w: use at least %d characters", ErrPasswordShort, MinPasswordLen)
	}
	if n > MaxPasswordLen {
		return fmt.Errorf("%w: use at most %d characters", ErrPasswordLong, MaxPasswordLen)
	}
	lower := strings.ToLower(pw)
	if utf8.RuneCountInString(username) >= 3 && strings.Contains(lower, strings.ToLower(username)) {
		return fmt.Errorf("%w: it contains the username", ErrPasswordContainsPersonal)
	}
	if nik != "" && strings.Contains(pw, nik) {
		return fmt.Errorf("%w: it contains the NIK", ErrPasswordContainsPersonal)
	}
	if !birthDate.IsZero() {
		for _, layout := range []string{"02012006", "20060102", "020106", "2006-01-02"} {
			if strings.Contains(pw, birthDate.Format(layout)) {
				return fmt.Errorf("%w: it contains the birth date", ErrPasswordContainsPersonal)
			}
		}
	}
	if _, ok := commonPasswords[lower]; ok {
		return ErrPasswordCommon
	}
	return nil
}
