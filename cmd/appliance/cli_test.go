package main_test

// Command-line mistakes: exit 2 with the usage text; an unreadable ceremony
// file: exit 1 naming the file.

import (
	"strings"
	"testing"
)

func TestCLIErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string // substrings stderr must hold
	}{
		{"no command", nil, 2, []string{"no command given", "usage:"}},
		{"unknown command", []string{"frobnicate"}, 2, []string{`"frobnicate"`, "usage:"}},
		{"ceremony without a file", []string{"ceremony"}, 2, []string{"exactly one CONFIG.yaml", "usage:"}},
		{"ceremony with two files", []string{"ceremony", "a.yaml", "b.yaml"}, 2, []string{"usage:"}},
		{"ceremony with a missing file", []string{"ceremony", "/nonexistent.yaml"}, 1, []string{"/nonexistent.yaml"}},
		{"demo without --state", []string{"demo"}, 2, []string{"--state", "usage:"}},
		{"demo with a stray argument", []string{"demo", "--state", "x", "extra"}, 2, []string{"usage:"}},
		{"demo with an unknown flag", []string{"demo", "--bogus"}, 2, []string{"bogus", "usage:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Run in a scratch directory: a mistake must not leave anything behind.
			dir := t.TempDir()
			r := runIn(t, dir, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", r.code, tc.code, r)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r)
				}
			}
			if tc.code == 1 && strings.Contains(r.stderr, "usage:") {
				t.Errorf("a runtime error printed the usage text:\n%s", r)
			}
			if r.stdout != "" {
				t.Errorf("stdout is not empty:\n%s", r)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("the failed command created %q", names)
			}
		})
	}
}

func TestCLIHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := appliance(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "appliance demo --state DIR") {
			t.Errorf("appliance %s: want exit 0 and the usage on stdout:\n%s", args[0], r)
		}
	}
	r := appliance(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "appliance ") {
		t.Errorf("appliance version:\n%s", r)
	}
}
