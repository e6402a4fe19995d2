// Package otp issues and checks the one-time codes that confirm an
// applicant's email and phone at activation, a subscriber's revocation and
// (later) each document signature.
//
// A code is six digits made by github.com/pquerna/otp (HOTP over a fresh
// 160-bit secret from the caller's random source, the secret then
// discarded). Only a keyed hash of the code is stored (HMAC with the
// appliance's index key, which the HSM KEK wraps), bound to its subject,
// purpose and an optional binding such as a document hash, so a code for
// one purpose or document never opens another and a stolen database does
// not give codes away to a six-digit brute force. A code lives 5 minutes,
// dies after 5 wrong tries, and is consumed by its first correct use.
// Sending is throttled: one code a minute and at most 5 an hour per
// subject and purpose.
//
// Every function works inside the caller's bbolt transaction, so issuing a
// code commits with the outbox entry that carries it, and a correct code is
// consumed in the transaction of the state change it allows.
package otp

import (
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	bolt "go.etcd.io/bbolt"
)

// Policy bounds codes.
type Policy struct {
	TTL         time.Duration // default 5 minutes
	MaxAttempts int           // wrong tries before the code dies; default 5
	ResendGap   time.Duration // between two codes; default 1 minute
	PerHour     int           // codes an hour; default 5
}

func (p Policy) withDefaults() Policy {
	if p.TTL == 0 {
		p.TTL = 5 * time.Minute
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 5
	}
	if p.ResendGap == 0 {
		p.ResendGap = time.Minute
	}
	if p.PerHour == 0 {
		p.PerHour = 5
	}
	return p
}

// Hasher is the keyed hash of codes (store.Indexer).
type Hasher interface {
	Hash(kind, value string) []byte
}

// Codes issues and checks codes.
type Codes struct {
	policy Policy
	hash   Hasher
	random io.Reader
	now    func() time.Time
}

// New makes Codes. random is the source of the HOTP secrets (the HSM RNG
// in the appliance).
func New(p Policy, h Hasher, random io.Reader, now func() time.Time) *Codes {
	if now == nil {
		now = time.Now
	}
	return &Codes{policy: p.withDefaults(), hash: h, random: random, now: now}
}

// Policy returns the policy in force.
func (c *Codes) Policy() Policy { return c.policy }

var bucket = []byte("otps")

// Init creates the bucket.
func Init(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucket)
	return err
}

// Errors of Verify and Issue.
var (
	ErrWrong   = errors.New("the code is wrong")
	ErrExpired = errors.New("the code has expired: ask for a new one")
	ErrDead    = errors.New("too many wrong codes: ask for a new one")
	ErrNone    = errors.New("no code was sent: ask for one")
)

// ThrottledError refuses a new code until Wait has passed.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("a code was sent recently: ask again in %s", e.Wait.Round(time.Second))
}

// record is what is stored per subject and purpose.
type record struct {
	Hash     []byte      `json:"hash"`
	Expires  time.Time   `json:"expires"`
	Attempts int         `json:"attempts"`
	Used     bool        `json:"used,omitempty"`
	Sent     []time.Time `json:"sent"` // the last hour's sends
}

func key(subject, purpose string) []byte { return []byte(purpose + "\x00" + subject) }

func (c *Codes) codeHash(subject, purpose string, binding []byte, code string) []byte {
	return c.hash.Hash("otp", purpose+"\x00"+subject+"\x00"+string(binding)+"\x00"+code)
}

func get(tx *bolt.Tx, k []byte) (record, bool, error) {
	var r record
	raw := tx.Bucket(bucket).Get(k)
	if raw == nil {
		return r, false, nil
	}
	return r, true, json.Unmarshal(raw, &r)
}

func put(tx *bolt.Tx, k []byte, r record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(k, raw)
}

// Issue makes a new code for subject and purpose, bound to binding (may be
// nil), replacing any earlier one. It refuses with *ThrottledError within
// ResendGap of the last code or beyond PerHour codes in the last hour.
func (c *Codes) Issue(tx *bolt.Tx, subject, purpose string, binding []byte) (string, error) {
	k := key(subject, purpose)
	r, _, err := get(tx, k)
	if err != nil {
		return "", fmt.Errorf("read code record: %w", err)
	}
	now := c.now()
	var recent []time.Time
	for _, t := range r.Sent {
		if now.Sub(t) < time.Hour {
			recent = append(recent, t)
		}
	}
	if n := len(recent); n > 0 {
		if wait := recent[n-1].Add(c.policy.ResendGap).Sub(now); wait > 0 {
			return "", &ThrottledError{Wait: wait}
		}
		if n >= c.policy.PerHour {
			return "", &ThrottledError{Wait: recent[0].Add(time.Hour).Sub(now)}
		}
	}
	secret := make([]byte, 20)
	if _, err := io.ReadFull(c.random, secret); err != nil {
		return "", fmt.Errorf("code secret: %w", err)
	}
	var counter [8]byte
	if _, err := io.ReadFull(c.random, counter[:]); err != nil {
		return "", fmt.Errorf("code counter: %w", err)
	}
	code, err := hotp.GenerateCodeCustom(base32.StdEncoding.EncodeToString(secret), binary.BigEndian.Uint64(counter[:]),
		hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", fmt.Errorf("generate code: %w", err)
	}
	r = record{Hash: c.codeHash(subject, purpose, binding, code), Expires: now.Add(c.policy.TTL), Sent: append(recent, now)}
	return code, put(tx, k, r)
}

// Verify checks code for subject, purpose and binding. A correct code is
// consumed. A wrong one counts an attempt: the caller must commit the
// transaction even then (and change nothing else), or the attempt is not
// counted. It returns ErrWrong (with remaining tries), ErrExpired, ErrDead
// or ErrNone.
func (c *Codes) Verify(tx *bolt.Tx, subject, purpose string, binding []byte, code string) (remaining int, err error) {
	k := key(subject, purpose)
	r, ok, err := get(tx, k)
	if err != nil {
		return 0, fmt.Errorf("read code record: %w", err)
	}
	switch {
	case !ok || r.Used || r.Hash == nil:
		return 0, ErrNone
	case r.Attempts >= c.policy.MaxAttempts:
		return 0, ErrDead
	case !c.now().Before(r.Expires):
		return 0, ErrExpired
	}
	want := c.codeHash(subject, purpose, binding, code)
	if len(code) != 6 || subtle.ConstantTimeCompare(want, r.Hash) != 1 {
		r.Attempts++
		if err := put(tx, k, r); err != nil {
			return 0, err
		}
		if r.Attempts >= c.policy.MaxAttempts {
			return 0, ErrDead
		}
		return c.policy.MaxAttempts - r.Attempts, ErrWrong
	}
	r.Used, r.Hash = true, nil
	return 0, put(tx, k, r)
}
