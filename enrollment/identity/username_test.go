package identity

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckUsername(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means ErrUsername
	}{
		{"budi", "budi"},
		{"Budi.Santoso", "budi.santoso"},
		{"BUDI_99", "budi_99"},
		{"siti-rahma", "siti-rahma"},
		{"1budi", "1budi"},
		{"abc", "abc"},
		{"3171234567890123", ""}, // all digits: could be a NIK
		{"081234567890", ""},     // all digits: a phone number
		{"a.b", "a.b"},
		{"budi.", "budi."},
		{"b__", "b__"},
		{strings.Repeat("a", 32), strings.Repeat("a", 32)},
		{"ab", ""},
		{"", ""},
		{strings.Repeat("a", 33), ""},
		{"_budi", ""},
		{".budi", ""},
		{"-budi", ""},
		{"budi santoso", ""},
		{" budi", ""},
		{"budi ", ""},
		{"budi@mail", ""},
		{"budi+1", ""},
		{"búdi", ""},
		{"\u212Aevin", ""}, // Kelvin sign: strings.ToLower would make it "k"
		{"\u0130stanbul", ""},
		{"budi\x00", ""},
	}
	for _, tt := range tests {
		got, err := CheckUsername(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrUsername) || got != "" {
				t.Errorf("CheckUsername(%q) = %q, %v; want ErrUsername", tt.in, got, err)
			} else if MessageKey(err) != "username.invalid" {
				t.Errorf("CheckUsername(%q) key = %q", tt.in, MessageKey(err))
			} else if len(tt.in) >= 3 && strings.Contains(err.Error(), tt.in) {
				t.Errorf("CheckUsername(%q) error text %q contains the input", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CheckUsername(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
