package identity

import (
	"errors"
	"fmt"
	"testing"
)

func TestMessageKey(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("other"), ""},
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
		{fmt.Errorf("portal: %w", fmt.Errorf("%w: got 15 digits", ErrNIKLength)), "nik.length"},
	}
	for _, tt := range tests {
		if got := MessageKey(tt.err); got != tt.want {
			t.Errorf("MessageKey(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	keys := make(map[string]bool)
	for _, mk := range messageKeys {
		if keys[mk.key] {
			t.Errorf("duplicate key %q", mk.key)
		}
		keys[mk.key] = true
	}
}
