package hsm_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
)

// scaleEnv is the environment variable that adds a larger key count to
// BenchmarkSubscriberKeyScale, e.g. BENCH_USERS_KEYS=100000 (populating
// SoftHSM2 with 100,000 key pairs takes about 20 minutes on 2 cores).
const scaleEnv = "BENCH_USERS_KEYS"

// scaleSizes are the key counts measured by default.
var scaleSizes = []int{100, 10_000}

// populateWorkers is how many sessions populate the token in parallel.
const populateWorkers = 2

// rawSignOps is how many signatures measure the raw HSM baseline.
const rawSignOps = 2000

// BenchmarkSubscriberKeyScale measures subscriber-key operations on a
// users token that already holds N ECDSA P-256 key pairs (N = 100 and
// 10,000; more with BENCH_USERS_KEYS): (a) generating one more key with
// the label-uniqueness check, (b) finding a key by label, (c) one signature
// with a key already found, (d) finding plus signing; each through the
// Token (C_FindObjects searches: the design before SubscriberKeys) and
// through SubscriberKeys (the index), and building the index. ns/op is
// per operation; x-raw-sign divides it by a bare C_SignInit+C_Sign on a
// known handle, timed between the operations of the same benchmark (so
// that load from elsewhere on the machine skews both alike). Run it with
// `make bench`, or `go test -run x -bench SubscriberKeyScale ./hsm/`.
func BenchmarkSubscriberKeyScale(b *testing.B) {
	sizes := slices.Clone(scaleSizes)
	if v := os.Getenv(scaleEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a key count", scaleEnv, v)
		}
		if !slices.Contains(sizes, n) {
			sizes = append(sizes, n)
			slices.Sort(sizes)
		}
	}
	// One "key generated" line per key would split the result lines: the
	// module (opened by hsmtest.New) logs warnings and errors only.
	prevLog := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	b.Cleanup(func() { slog.SetDefault(prevLog) })
	ctx := context.Background()
	env := hsmtest.New(b)
	tok := env.Token(b, "users")
	p, sess := rawSession(b, env, "users")
	digest := sha256.Sum256([]byte("a document"))

	var rows []string
	var firstPriv pkcs11.ObjectHandle
	have := 0
	for _, n := range sizes {
		start := time.Now()
		h := populate(b, env, have, n)
		if have == 0 {
			firstPriv = h
		}
		populated, added := time.Since(start), n-have
		b.Logf("populated %d -> %d key pairs in %v (%v per pair, %d sessions)", have, n, populated.Round(time.Millisecond),
			(populated / time.Duration(added)).Round(time.Microsecond), populateWorkers)
		have = n

		raw := rawSigner(b, p, sess, firstPriv, digest[:])
		rawNs := float64(raw(rawSignOps).Nanoseconds()) / rawSignOps
		// Each look-up takes a label not looked up before at this N (until
		// they run out: at N=100 later ones repeat), spread over the token.
		next := 0
		label := func() string { next++; return subscriberLabel((next * 7919) % n) }
		rows = append(rows, fmt.Sprintf("%7d  %-8s %-12s %14.0f %10.1f", n, "raw", "sign", rawNs, 1.0))
		// run measures f, reps times per iteration. After each call it
		// times raw signatures (at least 200 per iteration in all), so that
		// the ratio compares the two under the same load.
		run := func(path, op string, reps int, f func(i int)) {
			ns, ratio := -1.0, 0.0
			i := 0 // across the calls of the benchmark function: labels stay new
			rawPer := max(1, 200/reps)
			b.Run(fmt.Sprintf("keys=%d/%s/%s", n, path, op), func(b *testing.B) {
				var opTime, rawTime time.Duration
				for range b.N {
					for range reps {
						start := time.Now()
						f(i)
						opTime += time.Since(start)
						i++
						rawTime += raw(rawPer)
					}
				}
				ns = float64(opTime.Nanoseconds()) / float64(b.N*reps)
				ratio = ns / (float64(rawTime.Nanoseconds()) / float64(b.N*reps*rawPer))
				b.ReportMetric(ns, "ns/op")
				b.ReportMetric(ratio, "x-raw-sign")
			})
			if ns >= 0 {
				rows = append(rows, fmt.Sprintf("%7d  %-8s %-12s %14.0f %10.1f", n, path, op, ns, ratio))
			}
		}
		check := func(err error) {
			if err != nil {
				b.Fatal(err)
			}
		}
		// Operations that search the token get fewer repetitions as it grows.
		scans := max(1, min(20, 20_000/n))

		// Through the Token: every look-up and every label check is a
		// C_FindObjects over the whole token.
		tokSigner, err := tok.Signer(ctx, hsm.URI{Token: "users", Object: label()})
		check(err)
		run("token", "generate", scans, func(i int) {
			_, _, err := tok.GenerateKeyPair(ctx, fmt.Sprintf("bench-token-%d-%d", n, i), hsm.ECDSAP256)
			check(err)
		})
		run("token", "lookup", scans, func(int) {
			_, err := tok.Signer(ctx, hsm.URI{Token: "users", Object: label()})
			check(err)
		})
		run("token", "sign", 200, func(int) {
			_, err := tokSigner.Sign(nil, digest[:], crypto.SHA256)
			check(err)
		})
		run("token", "lookup+sign", scans, func(int) {
			s, err := tok.Signer(ctx, hsm.URI{Token: "users", Object: label()})
			check(err)
			_, err = s.Sign(nil, digest[:], crypto.SHA256)
			check(err)
		})

		// Through SubscriberKeys: one enumeration, then map look-ups.
		run("indexed", "build", 1, func(int) {
			k, err := tok.SubscriberKeys(ctx, hsm.SubscriberKeysOptions{})
			check(err)
			k.Close()
		})
		keys, err := tok.SubscriberKeys(ctx, hsm.SubscriberKeysOptions{})
		check(err)
		if keys.Len() < n {
			b.Fatalf("the index holds %d key pairs, the token at least %d", keys.Len(), n)
		}
		idxSigner, err := keys.Signer(ctx, label())
		check(err)
		run("indexed", "generate", 5, func(i int) {
			_, _, err := keys.Generate(ctx, fmt.Sprintf("bench-indexed-%d-%d", n, i))
			check(err)
		})
		fresh := max(1, min(200, n/4)) // labels not yet looked up, per run
		run("indexed", "lookup", fresh, func(int) {
			_, err := keys.Signer(ctx, label())
			check(err)
		})
		run("indexed", "sign", 200, func(int) {
			_, err := idxSigner.Sign(nil, digest[:], crypto.SHA256)
			check(err)
		})
		run("indexed", "lookup+sign", fresh, func(int) {
			s, err := keys.Signer(ctx, label())
			check(err)
			_, err = s.Sign(nil, digest[:], crypto.SHA256)
			check(err)
		})
		keys.Close()
		rows = append(rows, fmt.Sprintf("%7d  populate %-12s %14.0f %10s", n, "per pair", float64(populated.Nanoseconds())/float64(added), "-"))
	}
	fmt.Printf("\nsubscriber keys on a SoftHSM2 users token holding N P-256 key pairs (GOMAXPROCS=%d):\n%s\n%s\n\n",
		runtime.GOMAXPROCS(0), "      N  path     operation             ns/op x-raw-sign", strings.Join(rows, "\n"))
}

func subscriberLabel(i int) string { return fmt.Sprintf("subscriber-%07d", i) }

// populate generates the key pairs subscriber-<from> .. subscriber-<to-1>
// with C_GenerateKeyPair over populateWorkers raw sessions, with the
// attributes the product gives subscriber keys (the CKA_ID comes from Go's
// RNG here, which costs the token nothing). It returns the private key
// handle of the first pair generated.
func populate(b *testing.B, env *hsmtest.Env, from, to int) pkcs11.ObjectHandle {
	b.Helper()
	var first pkcs11.ObjectHandle
	var wg sync.WaitGroup
	errs := make([]error, populateWorkers)
	for w := range populateWorkers {
		p, s := rawSession(b, env, "users")
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.CloseSession(s)
			mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}
			id := make([]byte, 16)
			for i := from + w; i < to; i += populateWorkers {
				if _, err := rand.Read(id); err != nil {
					errs[w] = err
					return
				}
				label := subscriberLabel(i)
				pub := []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
					pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
					pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}),
					pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
					pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
					pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
					pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
					pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
					pkcs11.NewAttribute(pkcs11.CKA_ID, id),
					pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
				}
				priv := []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
					pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
					pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
					pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
					pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
					pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
					pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
					pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
					pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
					pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
					pkcs11.NewAttribute(pkcs11.CKA_ID, id),
					pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
				}
				_, privH, err := p.GenerateKeyPair(s, mech, pub, priv)
				if err != nil {
					errs[w] = fmt.Errorf("generate %s: %w", label, err)
					return
				}
				if i == from {
					first = privH
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return first
}

// rawSigner returns a function that makes n bare C_SignInit+C_Sign
// (CKM_ECDSA) signatures with the private key h, the floor any signing
// path sits on, and returns how long they took.
func rawSigner(b *testing.B, p *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle, digest []byte) func(n int) time.Duration {
	b.Helper()
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
	sign := func(n int) time.Duration {
		start := time.Now()
		for range n {
			if err := p.SignInit(s, mech, h); err != nil {
				b.Fatal(err)
			}
			if _, err := p.Sign(s, digest); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	sign(50) // warm-up
	return sign
}
