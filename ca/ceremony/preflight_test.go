package ceremony_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/psre/appliance/ca/ceremony"
	"github.com/psre/appliance/hsm"
)

// TestRefusedAfterValidation runs subordinate ceremonies that validate but
// cannot run: PIN, token, issuer key or transcript problems. Each stops
// before a key is generated or an output is written.
func TestRefusedAfterValidation(t *testing.T) {
	f := newFixture(t, "root", "ca")
	f.mustRun("root.yaml", rootYAML)
	// A key on token ca that is not the root's.
	f.mustRun("other.yaml", edit(t, keyYAML, "object=audit", "object=other-ca", "algorithm: ecdsa-p256", "algorithm: ecdsa-p384",
		"outputs:\n  public_key: audit.pub.pem\n", "outputs: {}\n"))
	t.Setenv("CEREMONY_WRONG_PIN", "0000000000000000")

	tests := []struct {
		name   string
		edits  []string
		is     error  // the sentinel the error wraps, if any
		want   string // a substring of the error
		steps  []string
		noFile bool // refused before the transcript is opened
	}{
		{name: "PIN variable not set", edits: []string{"root: file:{{.Pins}}/root", "root: env:CEREMONY_UNSET_PIN"},
			is: hsm.ErrPINMissing, want: "CEREMONY_UNSET_PIN is not set", noFile: true},
		{name: "PIN file missing", edits: []string{"root: file:{{.Pins}}/root", "root: file:{{.Pins}}/nope"},
			is: hsm.ErrPINMissing, want: "does not exist", noFile: true},
		{name: "wrong PIN", edits: []string{"root: file:{{.Pins}}/root", "root: env:CEREMONY_WRONG_PIN"},
			is: hsm.ErrPINIncorrect, steps: []string{"validated", "login", "failed"}},
		{name: "token not present", edits: []string{"token=ca;object=issuing-ca", "token=ghost;object=issuing-ca", "ca: file:{{.Pins}}/ca", "ghost: file:{{.Pins}}/ca"},
			is: hsm.ErrTokenNotFound, want: `label="ghost"`, steps: []string{"validated", "failed"}},
		{name: "issuer key missing", edits: []string{"object=root-ca", "object=no-such-key"},
			is: hsm.ErrKeyNotFound, steps: []string{"validated", "login", "login", "failed"}},
		{name: "issuer key does not match the certificate",
			edits: []string{"    root: file:{{.Pins}}/root\n", "", "token=root;object=root-ca", "token=ca;object=other-ca"},
			want:  "does not match the public key", steps: []string{"validated", "login", "failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objects := map[string]string{"root": f.objects("root"), "ca": f.objects("ca")}
			dir := t.TempDir()
			_, out, err := f.runIn(dir, "sub.yaml", edit(t, subYAML, tc.edits...))
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			t.Logf("refused: %v", err)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("want an error wrapping %q, got %v", tc.is, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not mention %q: %v", tc.want, err)
			}
			if errors.Is(err, ceremony.ErrInvalidConfig) {
				t.Errorf("reported as an invalid config: %v", err)
			}
			mustNotExist(t, filepath.Join(dir, "sub.pem"))
			f.keyLabelAbsent("ca", "issuing-ca")
			for label, before := range objects {
				if after := f.objects(label); after != before {
					t.Errorf("token %s changed:\n%s\n---\n%s", label, before, after)
				}
			}
			if tc.noFile {
				mustNotExist(t, filepath.Join(dir, "transcript.jsonl"))
				return
			}
			entries := readTranscript(t, filepath.Join(dir, "transcript.jsonl"))
			if got := steps(entries); !reflect.DeepEqual(got, tc.steps) {
				t.Errorf("steps %v, want %v", got, tc.steps)
			}
			if e := entries[len(entries)-1]; e.Error == "" {
				t.Errorf("the failed step records no error")
			}
		})
	}
}
