package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Entry is what an action asks to record.
type Entry struct {
	Actor   string            // who: an officer, "applicant:<id>", "cli:<user>(uid=..)", "system"
	Action  string            // what: e.g. "cert.issue", "application.approve"
	Object  string            // on what: a serial, an application id (never a NIK)
	Details map[string]string // small, never personal data (see checkDetails)
}

// Record is one stored audit record. Hash is the hex SHA-256 of the
// canonical encoding of every other field (see canonical); Prev is the
// Hash of the previous record (64 zero digits for record 1).
type Record struct {
	Seq     uint64            `json:"seq"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Object  string            `json:"object,omitempty"`
	Details map[string]string `json:"details,omitempty"`
	Prev    string            `json:"prev"`
	Hash    string            `json:"hash"`
}

// Size bounds of an entry.
const (
	MaxDetails     = 32
	MaxDetailKey   = 64
	MaxDetailValue = 512
	MaxField       = 256 // Actor, Action, Object
)

// ErrInvalidEntry marks an entry refused before anything is written.
var ErrInvalidEntry = errors.New("invalid audit entry")

// ErrPersonalData marks a details key that looks like personal data.
var ErrPersonalData = errors.New("audit details must not hold personal data")

// zeroHash is the Prev of record 1.
var zeroHash = strings.Repeat("0", 2*sha256.Size)

// Domain-separation tags: a record hash can never be mistaken for a
// checkpoint digest or for anything another component hashes.
const (
	recordTag     = "psre-appliance/audit/record/v1\x00"
	checkpointTag = "psre-appliance/audit/checkpoint/v1\x00"
)

// canonical is the byte string a record's hash covers:
//
//	recordTag
//	seq            uint64, big-endian
//	time           int64 Unix nanoseconds (UTC), big-endian
//	actor, action, object   each uint32 big-endian length + UTF-8 bytes
//	len(details)   uint32 big-endian
//	for each detail in ascending byte order of its key: key, value (length-prefixed)
//	prev           the 32 raw bytes of the previous hash
//
// It fails if prev is not 64 hex digits.
func canonical(r *Record) ([]byte, error) {
	prev, err := hex.DecodeString(r.Prev)
	if err != nil || len(prev) != sha256.Size {
		return nil, fmt.Errorf("prev %q is not a SHA-256 hex digest", r.Prev)
	}
	b := make([]byte, 0, 256)
	b = append(b, recordTag...)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
	for _, s := range []string{r.Actor, r.Action, r.Object} {
		b = appendString(b, s)
	}
	keys := make([]string, 0, len(r.Details))
	for k := range r.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendString(appendString(b, k), r.Details[k])
	}
	return append(b, prev...), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}

// computeHash returns the hex hash a record must carry.
func computeHash(r *Record) (string, error) {
	c, err := canonical(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// checkpointDigest is the SHA-256 the audit key signs:
// checkpointTag || seq (uint64 BE) || time (int64 Unix ns BE) || the 32 raw bytes of hash.
func checkpointDigest(seq uint64, hash string, t time.Time) ([]byte, error) {
	h, err := hex.DecodeString(hash)
	if err != nil || len(h) != sha256.Size {
		return nil, fmt.Errorf("checkpoint hash %q is not a SHA-256 hex digest", hash)
	}
	b := append([]byte(checkpointTag), binary.BigEndian.AppendUint64(nil, seq)...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
	sum := sha256.Sum256(append(b, h...))
	return sum[:], nil
}

// checkEntry refuses entries the log must not hold: missing actor or
// action, oversize fields, invalid UTF-8 (JSON would silently replace it
// and the stored record would no longer match its hash), malformed or
// personal-data detail keys.
func checkEntry(e Entry) error {
	for _, f := range []struct{ name, v string }{{"actor", e.Actor}, {"action", e.Action}, {"object", e.Object}} {
		if f.v == "" && f.name != "object" {
			return fmt.Errorf("%w: %s is empty", ErrInvalidEntry, f.name)
		}
		if len(f.v) > MaxField || !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s is longer than %d bytes or not UTF-8", ErrInvalidEntry, f.name, MaxField)
		}
	}
	if len(e.Details) > MaxDetails {
		return fmt.Errorf("%w: %d details, at most %d", ErrInvalidEntry, len(e.Details), MaxDetails)
	}
	for k, v := range e.Details {
		if !validKey(k) {
			return fmt.Errorf("%w: details key %q: want 1-%d of [a-z0-9_.-] starting with a letter", ErrInvalidEntry, k, MaxDetailKey)
		}
		if len(v) > MaxDetailValue || !utf8.ValidString(v) {
			return fmt.Errorf("%w: details %q: value longer than %d bytes or not UTF-8", ErrInvalidEntry, k, MaxDetailValue)
		}
		if w := personalWord(k); w != "" {
			return fmt.Errorf("%w: details key %q (%q)", ErrPersonalData, k, w)
		}
	}
	return nil
}

func validKey(k string) bool {
	if k == "" || len(k) > MaxDetailKey || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for _, c := range []byte(k) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// Words that mark personal data in a details key, English and Bahasa
// Indonesia. Long ones match anywhere in the key ("owner_email"); short
// ones, which occur inside innocent words ("pin" in "shipping"), only as a
// whole part between '_', '.', '-' or digits ("otp", "phone_otp").
var (
	personalSubstrings = []string{"name", "nama", "email", "mail", "phone", "telp", "telepon", "msisdn", "mobile",
		"birth", "lahir", "photo", "foto", "selfie", "specimen", "password", "passwd", "passphrase", "address",
		"alamat", "secret"}
	personalParts = []string{"nik", "ktp", "otp", "pin", "dob", "hp", "npwp", "kk"}
)

// personalWord returns the personal-data word key holds, or "".
func personalWord(key string) string {
	for _, w := range personalSubstrings {
		if strings.Contains(key, w) {
			return w
		}
	}
	parts := strings.FieldsFunc(key, func(r rune) bool { return r < 'a' || r > 'z' })
	for _, p := range parts {
		if slices.Contains(personalParts, p) {
			return p
		}
	}
	return ""
}
