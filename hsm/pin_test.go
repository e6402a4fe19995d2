package hsm_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/psre/appliance/hsm"
)

type answer struct {
	pin string
	err error
}

func (a answer) ReadSecret(string) (string, error) { return a.pin, a.err }

func TestReadPIN(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "s3cret\n", 0o600)
	loose := write("loose", "s3cret\n", 0o644)
	empty := write("empty", "\n", 0o600)
	groupWritable := write("group-writable", "s3cret\n", 0o660)
	rootGroupReadable := write("root-group-readable", "s3cret\n", 0o640) // the tests run as root
	t.Setenv("APPLIANCE_TEST_PIN", "from-env")
	t.Setenv("APPLIANCE_TEST_EMPTY", "")

	tests := []struct {
		name    string
		src     hsm.PINSource
		prompt  hsm.Prompter
		want    string
		wantErr error
		msg     string
	}{
		{name: "file", src: hsm.PINSource("file:" + good), want: "s3cret"},
		{name: "env", src: "env:APPLIANCE_TEST_PIN", want: "from-env"},
		{name: "prompt", src: hsm.PromptPIN, prompt: answer{pin: "typed"}, want: "typed"},
		{name: "no source", src: "", wantErr: hsm.ErrPINMissing, msg: "no default PIN"},
		{name: "missing file", src: hsm.PINSource("file:" + filepath.Join(dir, "absent")), wantErr: hsm.ErrPINMissing, msg: "does not exist"},
		{name: "world-readable file", src: hsm.PINSource("file:" + loose), msg: "chmod 0600"},
		{name: "group-writable file", src: hsm.PINSource("file:" + groupWritable), msg: "chmod 0600"},
		{name: "root-owned, group-readable file", src: hsm.PINSource("file:" + rootGroupReadable), want: "s3cret"},
		{name: "empty file", src: hsm.PINSource("file:" + empty), wantErr: hsm.ErrPINMissing, msg: "is empty"},
		{name: "unset env", src: "env:APPLIANCE_TEST_UNSET_VAR", wantErr: hsm.ErrPINMissing, msg: "APPLIANCE_TEST_UNSET_VAR is not set"},
		{name: "empty env", src: "env:APPLIANCE_TEST_EMPTY", wantErr: hsm.ErrPINMissing},
		{name: "empty prompt answer", src: hsm.PromptPIN, prompt: answer{}, wantErr: hsm.ErrPINMissing},
		{name: "literal PIN", src: "1234", msg: "unknown PIN source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hsm.ReadPIN(tc.src, "token ca", tc.prompt)
			if tc.wantErr == nil && tc.msg == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got PIN %q, want an error", got)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v does not wrap %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "from-env") {
				t.Fatalf("error leaks the PIN: %v", err)
			}
		})
	}
}
