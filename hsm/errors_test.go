package hsm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"
)

// SoftHSM2 never locks a PIN nor reports a device error, so these mappings
// are checked on the return codes themselves.
func TestLoginErrorMapping(t *testing.T) {
	tests := []struct {
		ckr  pkcs11.Error
		want error
	}{
		{pkcs11.CKR_PIN_INCORRECT, ErrPINIncorrect},
		{pkcs11.CKR_PIN_LOCKED, ErrPINLocked},
		{pkcs11.CKR_PIN_EXPIRED, ErrPINExpired},
		{pkcs11.CKR_PIN_LEN_RANGE, ErrPINIncorrect},
	}
	for _, tc := range tests {
		err := loginError("ca", fmt.Errorf("failed to log into long term session: %w", tc.ckr))
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.ckr, err, tc.want)
		}
	}
}

func TestClassifyAndReconnect(t *testing.T) {
	tests := []struct {
		err       error
		class     ErrorClass
		reconnect bool
	}{
		{nil, ClassNone, false},
		{fmt.Errorf("sign: %w", pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)), ClassSession, true},
		{pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), ClassDevice, true},
		{pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT), ClassNotPresent, true},
		{pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED), ClassNotPresent, true},
		{pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN), ClassSession, true},
		{pkcs11.Error(pkcs11.CKR_PIN_LOCKED), ClassPIN, false},
		{pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID), ClassUnsupported, false},
		{pkcs11.Error(pkcs11.CKR_DATA_LEN_RANGE), ClassArguments, false},
		{fmt.Errorf("x: %w", ErrKeyNotFound), ClassKeyNotFound, false},
		{&TokenNotFoundError{Wanted: "ca"}, ClassNotPresent, true},
		{errors.New("something else"), ClassOther, false},
	}
	for _, tc := range tests {
		if got := Classify(tc.err); got != tc.class {
			t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.class)
		}
		if got := needsReconnect(tc.err); got != tc.reconnect {
			t.Errorf("needsReconnect(%v) = %v, want %v", tc.err, got, tc.reconnect)
		}
	}
}
