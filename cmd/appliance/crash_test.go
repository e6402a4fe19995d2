package main_test

// Nothing is left half-done in the store: a refused request leaves no
// record, and an issuance killed between its intent and storing the
// certificate (a binary built with -tags crashtest) leaves one intent that
// the next start-up reconciles into abandoned, never issued.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/psre/appliance/store"
)

// certRecords reads every certificate record straight from the database;
// no appliance process may hold it.
func certRecords(t *testing.T, dir string) map[string]store.CertRecord {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "appliance.db"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs := map[string]store.CertRecord{}
	if err := db.ForEachCertificate(func(r store.CertRecord) error { recs[r.Serial] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	return recs
}

// intents lists the serials of the records in state intent.
func intents(recs map[string]store.CertRecord) []string {
	var out []string
	for s, r := range recs {
		if r.State == store.StateIntent {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// showCert runs cert show and decodes the record it prints.
func showCert(t *testing.T, dir, serial string) (store.CertRecord, result) {
	t.Helper()
	r := appliance(t, nil, "cert", "show", "--state", dir, "--serial", serial)
	var rec store.CertRecord
	if r.code != 0 {
		t.Fatalf("cert show %s:\n%s", serial, r)
	}
	// The JSON record comes first, then the certificate as PEM if issued.
	if err := json.NewDecoder(strings.NewReader(r.stdout)).Decode(&rec); err != nil {
		t.Fatalf("cert show %s printed no JSON record (%v):\n%s", serial, err, r)
	}
	if rec.Serial != serial {
		t.Errorf("cert show %s printed the record of %q", serial, rec.Serial)
	}
	if issued := rec.State == store.StateIssued; issued != strings.Contains(r.stdout, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("cert show %s (state %s): PEM printed = %v", serial, rec.State, !issued)
	}
	return rec, r
}

// wantFile requires path to hold want, or not to exist if want is nil.
func wantFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	switch {
	case want == nil && !errors.Is(err, os.ErrNotExist):
		t.Errorf("%s exists (%v), want it not to", path, err)
	case want != nil && !bytes.Equal(got, want):
		t.Errorf("%s holds %q (%v), want %q", path, got, err, want)
	}
}

func TestCertRefusals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	initDemo(t, dir)
	good := newCSR(t, "Bob Officer")
	// The store is not empty, and the request the cases spoil is a good one.
	issueCert(t, dir, "officer", good, filepath.Join(t.TempDir(), "good.pem"))

	pemData, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(pemData)
	der := slices.Clone(b.Bytes)
	der[len(der)-1] ^= 0xff // the last byte of the signature value
	badSig := filepath.Join(t.TempDir(), "bad-signature.der")
	existing := filepath.Join(t.TempDir(), "existing.pem")
	keep := []byte("keep me\n")
	if err := errors.Join(os.WriteFile(badSig, der, 0o600), os.WriteFile(existing, keep, 0o600)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, profile, csr, out, want string
	}{
		{"bad CSR signature", "officer", badSig, "", "signature does not verify"},
		{"RSA-1024 key", "officer", newCSR(t, "Weak", "-newkey", "rsa:1024"), "", "RSA-1024 is not accepted"},
		{"individual profile", "individual", good, "", `profile "individual"`},
		{"unknown profile", "nope", good, "", `profile "nope"`},
		{"tls without --dns", "tls", good, "", "needs at least one DNS name"},
		{"existing --out", "officer", good, existing, "file exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := certRecords(t, dir)
			out := tc.out
			if out == "" {
				out = filepath.Join(t.TempDir(), "refused.pem")
			}
			r := appliance(t, nil, "cert", "issue", "--state", dir, "--profile", tc.profile, "--csr", tc.csr, "--out", out)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stdout, "issued") {
				t.Errorf("want a refusal saying %q:\n%s", tc.want, r)
			}
			after := certRecords(t, dir)
			if len(after) != len(before) || len(intents(after)) != 0 {
				t.Errorf("%d records before, %d after; intents left: %q", len(before), len(after), intents(after))
			}
			if tc.out != "" {
				wantFile(t, out, keep)
			} else {
				wantFile(t, out, nil)
			}
		})
	}
}

var crashBin struct {
	once sync.Once
	path string
	err  error
}

// crashBinary builds the binary with -tags crashtest once.
func crashBinary(t *testing.T) string {
	t.Helper()
	crashBin.once.Do(func() {
		crashBin.path = filepath.Join(workDir, "appliance-crash")
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = "/usr/local/go/bin/go"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, goTool, "build", "-tags", "crashtest", "-o", crashBin.path, "./").CombinedOutput(); err != nil {
			crashBin.err = errors.New("go build -tags crashtest: " + err.Error() + "\n" + string(out))
		}
	})
	if crashBin.err != nil {
		t.Fatal(crashBin.err)
	}
	return crashBin.path
}

// runKilled runs the crashtest binary with APPLIANCE_CRASH_AT=point and
// requires it to die of SIGKILL.
func runKilled(t *testing.T, point string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, crashBinary(t), args...)
	cmd.Env = append(os.Environ(), "APPLIANCE_CRASH_AT="+point)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: -1}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		t.Fatalf("the crashtest binary did not finish within %v:\n%s", cmdTimeout, r)
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("APPLIANCE_CRASH_AT=%s: %v, want death by SIGKILL:\n%s", point, err, r)
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("APPLIANCE_CRASH_AT=%s: %v, want death by SIGKILL:\n%s", point, exitErr, r)
	}
	return r
}

func TestCrashDuringIssue(t *testing.T) {
	crashBinary(t)
	for _, point := range []string{"after-intent", "after-sign"} {
		t.Run(point, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			initDemo(t, dir)
			csr, outDir := newCSR(t, "Dave Officer"), t.TempDir()
			first, _ := issueCert(t, dir, "officer", csr, filepath.Join(outDir, "first.pem"))
			before := certRecords(t, dir)

			out := filepath.Join(outDir, "crashed.pem")
			runKilled(t, point, "cert", "issue", "--state", dir, "--profile", "officer", "--csr", csr, "--out", out)
			if st, err := os.Stat(out); err == nil && st.Size() != 0 {
				t.Errorf("%s holds %d bytes after the crash, want it absent or empty", out, st.Size())
			}
			recs := certRecords(t, dir)
			open := intents(recs)
			if len(open) != 1 || len(recs) != len(before)+1 {
				t.Fatalf("after the crash: %d records (%d before), intents %q: want exactly one new record, an intent", len(recs), len(before), open)
			}
			lost := open[0]
			if rec := recs[lost]; rec.CA != "admin" || rec.Profile != "officer" || !strings.HasPrefix(rec.Requester, "cli:") ||
				len(rec.TBSHash) != 32 || len(rec.DER) != 0 || rec.Status != "" {
				t.Errorf("the interrupted record: %+v", rec)
			}
			if recs[first].State != store.StateIssued || recs[first].Status != store.StatusGood {
				t.Errorf("the earlier certificate changed: %+v", recs[first])
			}

			// Opening the state (any command) reconciles the intent.
			rec, r := showCert(t, dir, lost)
			if rec.State != store.StateAbandoned || rec.Note == "" || rec.Status != "" || !rec.IssuedAt.IsZero() {
				t.Errorf("after reconciliation: state %q status %q note %q issued %v: want abandoned with a note, never issued",
					rec.State, rec.Status, rec.Note, rec.IssuedAt)
			}
			if !strings.Contains(r.stderr, `level=WARN msg="issuance intent without a stored certificate reconciled" serial=`+lost+" ") {
				t.Errorf("cert show did not log the reconciliation of %s:\n%s", lost, r)
			}

			next, _ := issueCert(t, dir, "officer", csr, filepath.Join(outDir, "next.pem"))
			if next == lost || next == first {
				t.Errorf("the next issuance got serial %s again", next)
			}
			recs = certRecords(t, dir)
			if len(intents(recs)) != 0 || recs[lost].State != store.StateAbandoned || len(recs[lost].DER) != 0 || len(recs) != len(before)+2 {
				t.Errorf("after the next issuance: %d records, intents %q, interrupted %+v", len(recs), intents(recs), recs[lost])
			}
			if _, r := showCert(t, dir, lost); strings.Contains(r.stderr, "reconciled") {
				t.Errorf("reconciliation ran again:\n%s", r)
			}
		})
	}
}
