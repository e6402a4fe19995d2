package otp_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/enrollment/otp"
)

type hmacHasher []byte

func (h hmacHasher) Hash(kind, value string) []byte {
	m := hmac.New(sha256.New, h)
	m.Write([]byte(kind + "\x00" + value))
	return m.Sum(nil)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (*bolt.DB, *otp.Codes, *clock) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "otp.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(otp.Init); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	return db, otp.New(otp.Policy{}, hmacHasher("key"), rand.Reader, c.now), c
}

func issue(t *testing.T, db *bolt.DB, codes *otp.Codes, subject, purpose string, binding []byte) (code string, err error) {
	t.Helper()
	err = db.Update(func(tx *bolt.Tx) error {
		code, err = codes.Issue(tx, subject, purpose, binding)
		return err
	})
	return code, err
}

// verify commits even a wrong attempt, as callers must.
func verify(db *bolt.DB, codes *otp.Codes, subject, purpose string, binding []byte, code string) (int, error) {
	var remaining int
	var verr error
	err := db.Update(func(tx *bolt.Tx) error {
		remaining, verr = codes.Verify(tx, subject, purpose, binding, code)
		if errors.Is(verr, otp.ErrWrong) || errors.Is(verr, otp.ErrDead) || verr == nil {
			return nil
		}
		return verr
	})
	if err != nil {
		return 0, err
	}
	return remaining, verr
}

func wrong(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestCodeLifecycle(t *testing.T) {
	db, codes, clk := setup(t)
	code, err := issue(t, db, codes, "app1", "activation_email", nil)
	if err != nil || len(code) != 6 {
		t.Fatalf("issue: %q %v", code, err)
	}
	cases := []struct {
		name    string
		subject string
		purpose string
		binding []byte
		code    string
		want    error
	}{
		{"other purpose", "app1", "activation_phone", nil, code, otp.ErrNone},
		{"other subject", "app2", "activation_email", nil, code, otp.ErrNone},
		{"other binding", "app1", "activation_email", []byte("doc"), code, otp.ErrWrong},
		{"five digits", "app1", "activation_email", nil, code[:5], otp.ErrWrong},
		{"right", "app1", "activation_email", nil, code, nil},
		{"used", "app1", "activation_email", nil, code, otp.ErrNone},
	}
	for _, c := range cases {
		if _, err := verify(db, codes, c.subject, c.purpose, c.binding, c.code); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Expiry.
	clk.t = clk.t.Add(2 * time.Minute)
	code, _ = issue(t, db, codes, "app1", "activation_email", nil)
	clk.t = clk.t.Add(5 * time.Minute)
	if _, err := verify(db, codes, "app1", "activation_email", nil, code); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("after 5 minutes: %v", err)
	}
}

func TestFiveWrongTriesKill(t *testing.T) {
	db, codes, _ := setup(t)
	code, _ := issue(t, db, codes, "app1", "revoke", nil)
	for i := 4; i >= 1; i-- {
		if rem, err := verify(db, codes, "app1", "revoke", nil, wrong(code)); !errors.Is(err, otp.ErrWrong) || rem != i {
			t.Fatalf("wrong try: %d %v, want %d left", rem, err, i)
		}
	}
	if _, err := verify(db, codes, "app1", "revoke", nil, wrong(code)); !errors.Is(err, otp.ErrDead) {
		t.Fatalf("fifth wrong try: %v", err)
	}
	if _, err := verify(db, codes, "app1", "revoke", nil, code); !errors.Is(err, otp.ErrDead) {
		t.Fatalf("the right code after five wrong ones: %v", err)
	}
}

func TestResendThrottle(t *testing.T) {
	db, codes, clk := setup(t)
	var te *otp.ThrottledError
	for i := range 5 {
		if _, err := issue(t, db, codes, "app1", "activation_phone", nil); err != nil {
			t.Fatalf("code %d: %v", i+1, err)
		}
		if _, err := issue(t, db, codes, "app1", "activation_phone", nil); !errors.As(err, &te) || te.Wait != time.Minute {
			t.Fatalf("second code within a minute: %v", err)
		}
		clk.t = clk.t.Add(time.Minute)
	}
	if _, err := issue(t, db, codes, "app1", "activation_phone", nil); !errors.As(err, &te) || te.Wait != 55*time.Minute {
		t.Fatalf("sixth code within the hour: %v", err)
	}
	clk.t = clk.t.Add(55 * time.Minute)
	if _, err := issue(t, db, codes, "app1", "activation_phone", nil); err != nil {
		t.Fatalf("after the hour: %v", err)
	}
	// Other purposes are throttled on their own.
	if _, err := issue(t, db, codes, "app1", "activation_email", nil); err != nil {
		t.Fatal(err)
	}
}

func TestOnlyHashStored(t *testing.T) {
	db, codes, _ := setup(t)
	code, _ := issue(t, db, codes, "app1", "activation_email", nil)
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("otps")).ForEach(func(k, v []byte) error {
			if string(v) == "" || containsCode(v, code) {
				t.Fatalf("the code is stored in clear: %s", v)
			}
			return nil
		})
	})
}

func containsCode(v []byte, code string) bool {
	for i := 0; i+len(code) <= len(v); i++ {
		if string(v[i:i+len(code)]) == code {
			return true
		}
	}
	return false
}
