package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/notify"
	"github.com/psre/appliance/store"
)

// BenchmarkActivation measures the end of an activation (the phone code
// verified, the subscriber key generated on the users token, the
// individual certificate linted, signed by the issuing CA and stored, the
// application issued) beside the raw HSM work it contains (one key
// generation and one signature on the same SoftHSM) in the same run.
func BenchmarkActivation(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "state")
	ctx := context.Background()
	if err := run(ctx, []string{"demo", "--state", dir, "--init-only"}, io.Discard, io.Discard); err != nil {
		b.Fatalf("demo: %v", err)
	}
	st, err := openState(ctx, dir, demoSettings(defaultPortalAddr), nil, slog.New(slog.NewTextHandler(io.Discard, nil)), ca.Hooks{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	const n, workers = 200, 8
	ids, codes := prepareActivations(b, st, n)
	var next atomic.Int64
	activations := rateOf(workers, n, func() error {
		i := next.Add(1) - 1
		_, err := st.enroll.CompleteActivation(ctx, ids[i], codes[i], currentConsents)
		return err
	})
	digest := sha256.Sum256([]byte("bench"))
	var raw atomic.Int64
	rawRate := rateOf(workers, n, func() error {
		s, _, err := st.users.GenerateKeyPair(ctx, fmt.Sprintf("bench-raw-%d", raw.Add(1)), hsm.ECDSAP256)
		if err != nil {
			return err
		}
		_, err = s.Sign(rand.Reader, digest[:], crypto.SHA256)
		return err
	})
	b.ReportMetric(activations, "activations/s")
	b.ReportMetric(rawRate, "hsm-keygen+sign/s")
	b.ReportMetric(activations/rawRate, "activations/hsm-op")
	b.Logf("%d activations with %d requesters: %.0f/s; raw HSM key generation + signature: %.0f/s; ratio %.2f",
		n, workers, activations, rawRate, activations/rawRate)
}

// rateOf runs op total times over workers goroutines and returns ops/s.
func rateOf(workers, total int, op func() error) float64 {
	var wg sync.WaitGroup
	var failed atomic.Bool
	jobs := make(chan struct{}, total)
	for range total {
		jobs <- struct{}{}
	}
	close(jobs)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := op(); err != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		return -1
	}
	return float64(total) / time.Since(start).Seconds()
}

var smsCode = regexp.MustCompile(`\b[0-9]{6}\b`)

// prepareActivations stores n applicants whose applications wait for the
// phone code (without the registration's password hashing and image
// work), has the code sent, and reads it back from the outbox.
func prepareActivations(b *testing.B, st *state, n int) (ids, codes []string) {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	for i := range n {
		id := fmt.Sprintf("%032x", i+1)
		phone := fmt.Sprintf("+62812%08d", i)
		a := store.Applicant{ID: id, Username: fmt.Sprintf("bench%d", i), Name: fmt.Sprintf("Bench Subscriber %d", i),
			Email: fmt.Sprintf("bench%d@example.co.id", i), Phone: phone, PasswordHash: "x", Blobs: map[string]string{}, Created: now, Lang: "id"}
		app := store.Application{ID: id, ApplicantID: id, State: enrollment.StateActivationPhoneOTP, Updated: now}
		keys := store.UniqueKeys{Username: a.Username, EmailHash: []byte(a.Email), PhoneHash: []byte(phone), NIKHash: []byte(id)}
		if err := st.db.CreateApplicant(a, keys, app, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := st.enroll.ResendCode(ctx, id); err != nil {
			b.Fatal(err)
		}
		var code string
		err := st.db.View(func(tx *bolt.Tx) error {
			return notify.Each(tx, true, func(r notify.Record) error {
				if code == "" && r.To == phone {
					code = smsCode.FindString(r.Text)
				}
				return nil
			})
		})
		if err != nil || code == "" {
			b.Fatalf("no code for %s: %v", phone, err)
		}
		ids, codes = append(ids, id), append(codes, code)
	}
	return ids, codes
}
