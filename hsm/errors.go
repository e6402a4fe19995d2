package hsm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// Sentinel errors. Every error this package returns for one of these
// conditions wraps the matching value, so callers branch with errors.Is.
var (
	// ErrPINMissing means no PIN source was configured.
	ErrPINMissing = errors.New("no PIN given: set a PIN file (pin-source=file:/path, mode 0600), an environment variable (pin-source=env:NAME) or run from a terminal to be prompted; there is no default PIN")
	// ErrPINIncorrect means the token rejected the PIN (CKR_PIN_INCORRECT).
	ErrPINIncorrect = errors.New("the token rejected the PIN (CKR_PIN_INCORRECT): check the PIN source; repeated failures lock the token")
	// ErrPINLocked means the user PIN is locked (CKR_PIN_LOCKED).
	ErrPINLocked = errors.New("the user PIN is locked (CKR_PIN_LOCKED): a security officer must unlock it with the SO PIN (e.g. softhsm2-util or the vendor tool) before the token can be used")
	// ErrPINExpired means the PIN must be changed before use.
	ErrPINExpired = errors.New("the PIN has expired (CKR_PIN_EXPIRED): set a new PIN with the vendor tool")
	// ErrTokenNotFound is wrapped by *TokenNotFoundError.
	ErrTokenNotFound = errors.New("PKCS#11 token not found")
	// ErrModuleNotLoadable is wrapped by *ModuleError.
	ErrModuleNotLoadable = errors.New("PKCS#11 module cannot be loaded")
	// ErrKeyNotFound means no key matched a URI.
	ErrKeyNotFound = errors.New("key not found on the token")
	// ErrKeyAmbiguous means more than one key matched a URI.
	ErrKeyAmbiguous = errors.New("more than one key matches; add id= or a more specific object= to the URI")
	// ErrKeyTypeUnsupported means the key exists but this product cannot use it.
	ErrKeyTypeUnsupported = errors.New("key type not supported: use ECDSA P-256, P-384 or RSA (2048 bits or more) for signing and AES-256 for the KEK")
	// ErrLabelExists means key generation was refused because the label is taken.
	ErrLabelExists = errors.New("a key with this label already exists on the token; choose another label or use the existing key")
	// ErrSessionLost means the sessions to the token were lost; the next operation reconnects.
	ErrSessionLost = errors.New("the sessions to the token were lost; the next operation re-opens them")
)

// ModuleError says which module path could not be loaded and why.
type ModuleError struct {
	Path   string
	Reason string
}

func (e *ModuleError) Error() string {
	return fmt.Sprintf("PKCS#11 module %q cannot be loaded: %s (install the HSM vendor's library, or softhsm2 for development, and give its full path)", e.Path, e.Reason)
}

func (e *ModuleError) Unwrap() error { return ErrModuleNotLoadable }

// TokenInfo describes one token present in a slot.
type TokenInfo struct {
	Slot   uint
	Label  string
	Serial string
	Model  string
	flags  uint
}

// TokenNotFoundError names the token that was asked for and lists those present.
type TokenNotFoundError struct {
	Wanted    string
	Available []TokenInfo
}

func (e *TokenNotFoundError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("PKCS#11 token %s not found: the module has no initialised token (create one with the demo or the vendor tool)", e.Wanted)
	}
	names := make([]string, 0, len(e.Available))
	for _, t := range e.Available {
		names = append(names, fmt.Sprintf("label=%q serial=%s", t.Label, t.Serial))
	}
	return fmt.Sprintf("PKCS#11 token %s not found; tokens present: %s", e.Wanted, strings.Join(names, ", "))
}

func (e *TokenNotFoundError) Unwrap() error { return ErrTokenNotFound }

// ErrorClass is a coarse class of HSM failure, used as a metric label and to
// decide whether to reconnect.
type ErrorClass string

// Error classes.
const (
	ClassNone        ErrorClass = ""
	ClassPIN         ErrorClass = "pin"
	ClassSession     ErrorClass = "session"
	ClassDevice      ErrorClass = "device"
	ClassNotPresent  ErrorClass = "token_not_present"
	ClassKeyNotFound ErrorClass = "key_not_found"
	ClassUnsupported ErrorClass = "unsupported"
	ClassArguments   ErrorClass = "arguments"
	ClassOther       ErrorClass = "other"
)

// ckrClasses maps PKCS#11 return codes to error classes.
var ckrClasses = map[pkcs11.Error]ErrorClass{
	pkcs11.CKR_PIN_INCORRECT:                ClassPIN,
	pkcs11.CKR_PIN_LOCKED:                   ClassPIN,
	pkcs11.CKR_PIN_EXPIRED:                  ClassPIN,
	pkcs11.CKR_PIN_INVALID:                  ClassPIN,
	pkcs11.CKR_PIN_LEN_RANGE:                ClassPIN,
	pkcs11.CKR_USER_NOT_LOGGED_IN:           ClassSession,
	pkcs11.CKR_SESSION_HANDLE_INVALID:       ClassSession,
	pkcs11.CKR_SESSION_CLOSED:               ClassSession,
	pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED:     ClassSession,
	pkcs11.CKR_OBJECT_HANDLE_INVALID:        ClassSession,
	pkcs11.CKR_KEY_HANDLE_INVALID:           ClassSession,
	pkcs11.CKR_DEVICE_ERROR:                 ClassDevice,
	pkcs11.CKR_DEVICE_MEMORY:                ClassDevice,
	pkcs11.CKR_DEVICE_REMOVED:               ClassNotPresent,
	pkcs11.CKR_TOKEN_NOT_PRESENT:            ClassNotPresent,
	pkcs11.CKR_TOKEN_NOT_RECOGNIZED:         ClassNotPresent,
	pkcs11.CKR_SLOT_ID_INVALID:              ClassNotPresent,
	pkcs11.CKR_MECHANISM_INVALID:            ClassUnsupported,
	pkcs11.CKR_KEY_TYPE_INCONSISTENT:        ClassUnsupported,
	pkcs11.CKR_ATTRIBUTE_VALUE_INVALID:      ClassArguments,
	pkcs11.CKR_ARGUMENTS_BAD:                ClassArguments,
	pkcs11.CKR_DATA_LEN_RANGE:               ClassArguments,
	pkcs11.CKR_ENCRYPTED_DATA_INVALID:       ClassArguments,
	pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE:     ClassArguments,
	pkcs11.CKR_TEMPLATE_INCONSISTENT:        ClassArguments,
	pkcs11.CKR_TEMPLATE_INCOMPLETE:          ClassArguments,
	pkcs11.CKR_ATTRIBUTE_TYPE_INVALID:       ClassArguments,
	pkcs11.CKR_MECHANISM_PARAM_INVALID:      ClassArguments,
	pkcs11.CKR_FUNCTION_FAILED:              ClassDevice,
	pkcs11.CKR_GENERAL_ERROR:                ClassDevice,
	pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED: ClassOther,
}

// Classify returns the class of err, looking through wrapping for a PKCS#11
// return code or one of this package's sentinel errors.
func Classify(err error) ErrorClass {
	if err == nil {
		return ClassNone
	}
	var ckr pkcs11.Error
	if errors.As(err, &ckr) {
		if c, ok := ckrClasses[ckr]; ok {
			return c
		}
		return ClassOther
	}
	switch {
	case errors.Is(err, ErrPINIncorrect), errors.Is(err, ErrPINLocked), errors.Is(err, ErrPINExpired), errors.Is(err, ErrPINMissing):
		return ClassPIN
	case errors.Is(err, ErrSessionLost):
		return ClassSession
	case errors.Is(err, ErrTokenNotFound):
		return ClassNotPresent
	case errors.Is(err, ErrKeyNotFound):
		return ClassKeyNotFound
	case errors.Is(err, ErrKeyTypeUnsupported):
		return ClassUnsupported
	}
	return ClassOther
}

// needsReconnect reports whether err means the token's sessions or login
// are gone, so that re-opening them may help.
func needsReconnect(err error) bool {
	switch Classify(err) {
	case ClassSession, ClassDevice, ClassNotPresent:
		return true
	}
	return false
}

// loginError turns a failed login into an actionable error.
func loginError(token string, err error) error {
	var ckr pkcs11.Error
	if errors.As(err, &ckr) {
		switch ckr {
		case pkcs11.CKR_PIN_INCORRECT:
			return fmt.Errorf("log in to token %s: %w", token, ErrPINIncorrect)
		case pkcs11.CKR_PIN_LOCKED:
			return fmt.Errorf("log in to token %s: %w", token, ErrPINLocked)
		case pkcs11.CKR_PIN_EXPIRED:
			return fmt.Errorf("log in to token %s: %w", token, ErrPINExpired)
		case pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_INVALID:
			return fmt.Errorf("log in to token %s: the PIN has the wrong length or characters (%v): %w", token, ckr, ErrPINIncorrect)
		}
	}
	return fmt.Errorf("log in to token %s: %w", token, err)
}
