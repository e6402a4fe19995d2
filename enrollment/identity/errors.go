package identity

import "errors"

// messageKeys maps each sentinel error of this package to its key in the
// message catalogs. The order matters only if an error wraps several
// sentinels; the first match wins.
var messageKeys = []struct {
	err error
	key string
}{
	{ErrNIKLength, "nik.length"},
	{ErrNIKNotDigits, "nik.not_digits"},
	{ErrNIKProvince, "nik.province"},
	{ErrNIKRegion, "nik.region"},
	{ErrNIKDate, "nik.date"},
	{ErrNIKBirthMismatch, "nik.birth_mismatch"},
	{ErrNIKSerial, "nik.serial"},
	{ErrNIKAge, "nik.age"},
	{ErrPhone, "phone.invalid"},
	{ErrPasswordShort, "password.short"},
	{ErrPasswordLong, "password.long"},
	{ErrPasswordContainsPersonal, "password.personal"},
	{ErrPasswordCommon, "password.common"},
	{ErrUsername, "username.invalid"},
}

// MessageKey returns the message-catalog key of the sentinel error that err
// wraps, for example "nik.length", or "" if err is nil or wraps none of this
// package's sentinels.
func MessageKey(err error) string {
	if err == nil {
		return ""
	}
	for _, mk := range messageKeys {
		if errors.Is(err, mk.err) {
			return mk.key
		}
	}
	return ""
}
