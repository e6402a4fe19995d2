package identity

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUsername is wrapped by every error of CheckUsername.
var ErrUsername = errors.New("identity: invalid username")

// Length limits of a username, in characters (all ASCII).
const (
	minUsernameLen = 3
	maxUsernameLen = 32
)

// CheckUsername returns the username s in lowercase if it is valid: 3 to 32
// characters out of a-z, 0-9, '.', '_' and '-', starting with a letter or a
// digit. Uppercase ASCII letters are lowered first, so "Budi.Santoso" is
// accepted as "budi.santoso". Only ASCII is lowered: a non-ASCII letter is
// refused even if its lowercase form is ASCII (the Kelvin sign "K" would
// otherwise become "k"). Surrounding spaces are not trimmed; they are refused.
//
// Error texts never contain s.
func CheckUsername(s string) (string, error) {
	if len(s) < minUsernameLen || len(s) > maxUsernameLen {
		return "", fmt.Errorf("%w: must have %d to %d characters", ErrUsername, minUsernameLen, maxUsernameLen)
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
			b[i] = c
		}
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == '-':
			if i == 0 {
				return "", fmt.Errorf("%w: must start with a letter or a digit", ErrUsername)
			}
		default:
			return "", fmt.Errorf("%w: only letters a-z, digits 0-9 and . _ - are allowed", ErrUsername)
		}
	}
	if strings.Trim(string(b), "0123456789") == "" {
		// An all-digit username could be a NIK or a phone number, and
		// usernames appear in logs and URLs.
		return "", fmt.Errorf("%w: must contain a letter", ErrUsername)
	}
	return string(b), nil
}
