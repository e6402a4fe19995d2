package identity

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckPassword(t *testing.T) {
	const (
		user = "budi.santoso"
		nik  = "3201051705900001"
	)
	birth := date(1990, 5, 17)
	tests := []struct {
		name     string
		pw       string
		username string // user if empty
		nik      string // nik if empty
		noBirth  bool   // pass a zero birth date
		err      error
	}{
		{name: "ok", pw: "Kopi-Tubruk-Pagi"},
		{name: "ten characters", pw: "kp9#Lm2!xQ"},
		{name: "ten runes, more bytes", pw: "kopi🔑pagi☕"},
		{name: "128 characters", pw: strings.Repeat("ab", 64)},
		{name: "128 runes of 4 bytes", pw: strings.Repeat("🔑", 128)},

		{name: "empty", pw: "", err: ErrPasswordShort},
		{name: "nine characters", pw: "kp9#Lm2!x", err: ErrPasswordShort},
		{name: "nine runes but more bytes", pw: "🔑🔑🔑🔑🔑🔑🔑🔑🔑", err: ErrPasswordShort},
		{name: "common but short", pw: "bismillah", err: ErrPasswordShort},
		{name: "129 characters", pw: strings.Repeat("a", 129), err: ErrPasswordLong},

		{name: "contains username", pw: "budi.santoso-2024!", err: ErrPasswordContainsPersonal},
		{name: "contains username other case", pw: "XX-Budi.Santoso-XX", err: ErrPasswordContainsPersonal},
		{name: "short username ignored", pw: "bo-kopi-pagi-99", username: "bo"},
		{name: "three-letter username counts", pw: "abc-kopi-pagi", username: "ABC", err: ErrPasswordContainsPersonal},
		{name: "contains NIK", pw: "x3201051705900001x", err: ErrPasswordContainsPersonal},
		{name: "empty NIK skipped", pw: "Kopi-Tubruk-Pagi", nik: "-"},
		{name: "contains DDMMYYYY", pw: "kopi17051990!", err: ErrPasswordContainsPersonal},
		{name: "contains YYYYMMDD", pw: "kopi19900517!", err: ErrPasswordContainsPersonal},
		{name: "contains DDMMYY", pw: "kopi-pagi-170590", err: ErrPasswordContainsPersonal},
		{name: "contains YYYY-MM-DD", pw: "kopi-1990-05-17", err: ErrPasswordContainsPersonal},
		{name: "other date fine", pw: "kopi-1990-06-17"},
		{name: "zero birth date skipped", pw: "kopi-0001-01-01", noBirth: true},

		{name: "common digits", pw: "1234567890", err: ErrPasswordCommon},
		{name: "common keyboard walk", pw: "qwertyuiop", err: ErrPasswordCommon},
		{name: "common any case", pw: "QwertyUiop", err: ErrPasswordCommon},
		{name: "common English", pw: "password123", err: ErrPasswordCommon},
		{name: "common Indonesian", pw: "bismillah123", err: ErrPasswordCommon},
		{name: "common Indonesian 2", pw: "Merdeka1945", err: ErrPasswordCommon},
		{name: "common Indonesian 3", pw: "sayangkamu", err: ErrPasswordCommon},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, n, b := tt.username, tt.nik, birth
			if u == "" {
				u = user
			}
			switch n {
			case "":
				n = nik
			case "-":
				n = ""
			}
			if tt.noBirth {
				b = time.Time{}
			}
			err := CheckPassword(tt.pw, u, n, b)
			if tt.err == nil {
				if err != nil {
					t.Fatalf("CheckPassword: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("CheckPassword error = %v, want %v", err, tt.err)
			}
			if MessageKey(err) == "" {
				t.Errorf("error %q has no message key", err)
			}
			msg := err.Error()
			for _, secret := range []string{tt.pw, u, n, "1990"} {
				if len(secret) >= 3 && strings.Contains(msg, secret) {
					t.Errorf("error text %q contains personal data", msg)
				}
			}
		})
	}
}

func TestCommonPasswords(t *testing.T) {
	if len(commonPasswords) < 300 {
		t.Errorf("%d common passwords, want at least 300", len(commonPasswords))
	}
	seen := make(map[string]bool)
	for _, line := range strings.Split(commonPasswordsTxt, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line != strings.ToLower(strings.TrimSpace(line)) {
			t.Errorf("entry %q is not trimmed lowercase", line)
		}
		if seen[line] {
			t.Errorf("duplicate entry %q", line)
		}
		seen[line] = true
	}
	for _, pw := range []string{"indonesia", "bismillah", "sayangku", "rahasia", "katasandi",
		"merdeka45", "password", "123456", "qwerty", "iloveyou"} {
		if _, ok := commonPasswords[pw]; !ok {
			t.Errorf("%q missing from the list", pw)
		}
	}
}
