package ceremony_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/psre/appliance/ca/ceremony"
	"github.com/psre/appliance/ca/lint"
)

// TestZlintRefusesBeforeKeyGeneration runs subordinate ceremonies whose
// templates zlint refuses. The refusal names the lint and comes from the
// pre-lint with a throwaway key: no key is generated, no output is left.
func TestZlintRefusesBeforeKeyGeneration(t *testing.T) {
	f := newFixture(t, "root", "ca")
	f.mustRun("root.yaml", rootYAML)
	tests := []struct {
		name  string
		edits []string
		lint  string
	}{
		// A TLS-capable CA (serverAuth) must carry a CA/B Forum reserved
		// policy or anyPolicy, not only a private OID.
		{"serverAuth with a private policy", []string{"[documentSigning]", "[serverAuth]"}, "e_invalid_ca_certificate_policies"},
		// No EKU at all makes the CA TLS-capable too.
		{"no EKU with a private policy", []string{"  ext_key_usages: [documentSigning]\n", ""}, "e_invalid_ca_certificate_policies"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			label := "refused-" + string(rune('a'+i))
			rootObjects, caObjects := f.objects("root"), f.objects("ca")
			dir := t.TempDir()
			text := edit(t, subYAML, append([]string{"object=issuing-ca", "object=" + label}, tc.edits...)...)
			_, out, err := f.runIn(dir, "sub.yaml", text)
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(err.Error(), tc.lint) || !strings.Contains(err.Error(), "before generating the key") {
				t.Errorf("error does not name %s and the pre-lint: %v", tc.lint, err)
			}
			if errors.Is(err, ceremony.ErrInvalidConfig) {
				t.Errorf("a lint finding reported as an invalid config: %v", err)
			}
			var lerr *lint.Error
			if !errors.As(err, &lerr) {
				t.Fatalf("error is not a *lint.Error: %T %v", err, err)
			}
			var names []string
			for _, fd := range lerr.Findings {
				names = append(names, fd.Lint)
			}
			if !strings.Contains(strings.Join(names, " "), tc.lint) {
				t.Errorf("findings %v lack %s", names, tc.lint)
			}
			t.Logf("findings: %v", names)

			f.keyLabelAbsent("ca", label)
			if f.objects("ca") != caObjects || f.objects("root") != rootObjects {
				t.Error("token objects changed")
			}
			mustNotExist(t, filepath.Join(dir, "sub.pem"))
			entries := readTranscript(t, filepath.Join(dir, "transcript.jsonl"))
			if got := steps(entries); !reflect.DeepEqual(got, []string{"validated", "login", "login", "failed"}) {
				t.Errorf("steps %v, want validated, login, login, failed", got)
			}
			if e := entries[len(entries)-1]; !strings.Contains(e.Error, tc.lint) {
				t.Errorf("the transcript's failure does not name the lint: %q", e.Error)
			}
		})
	}
}
