package hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
)

// signVerifies signs a digest with s and checks the signature against pub.
func signVerifies(t *testing.T, s crypto.Signer, pub crypto.PublicKey) {
	t.Helper()
	digest := sha256.Sum256([]byte(t.Name()))
	sig, err := s.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("the signature does not verify")
	}
}

func openSubscriberKeys(t *testing.T, tok *hsm.Token) *hsm.SubscriberKeys {
	t.Helper()
	keys, err := tok.SubscriberKeys(context.Background(), hsm.SubscriberKeysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	return keys
}

func TestSubscriberKeysGenerateSignDestroy(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "users")
	ctx := context.Background()
	// Keys on the token before the index is built.
	old, _, err := tok.GenerateKeyPair(ctx, "subscriber-old", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.GenerateSecretKey(ctx, "a-secret-key"); err != nil {
		t.Fatal(err)
	}
	rawPair(t, env, "users", "twice", []byte{1})
	rawPair(t, env, "users", "twice", []byte{2})

	keys := openSubscriberKeys(t, tok)
	if n := keys.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1 (subscriber-old; twice is ambiguous)", n)
	}
	s, uri, err := keys.Generate(ctx, "subscriber-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(uri.ID) != 16 || uri.Object != "subscriber-1" || uri.Token != "users" || uri.Type != "private" {
		t.Fatalf("URI %s", uri)
	}
	if s.URI().String() != uri.String() {
		t.Fatalf("signer URI %s, generated %s", s.URI(), uri)
	}
	attrs, err := tok.Attributes(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	if !attrs.Protected() {
		t.Fatalf("key attributes %+v: want token, private, sensitive, always sensitive, never extractable", attrs)
	}
	if hsm.AlgorithmOf(s.Public()) != hsm.ECDSAP256 {
		t.Fatalf("public key %T", s.Public())
	}
	signVerifies(t, s, s.Public())
	if n := keys.Len(); n != 2 {
		t.Fatalf("Len = %d after Generate, want 2", n)
	}

	// Found through the index, and through a token search, as the same key.
	found, err := keys.Signer(ctx, "subscriber-1")
	if err != nil {
		t.Fatal(err)
	}
	if !found.Public().(*ecdsa.PublicKey).Equal(s.Public()) || string(found.URI().ID) != string(uri.ID) {
		t.Fatal("the index found another key")
	}
	signVerifies(t, found, s.Public())
	scanned, err := tok.Signer(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	signVerifies(t, scanned, found.Public())
	// A key that was there before the index was built.
	o, err := keys.Signer(ctx, "subscriber-old")
	if err != nil {
		t.Fatal(err)
	}
	signVerifies(t, o, old.Public())

	t.Run("refusals", func(t *testing.T) {
		for _, label := range []string{"subscriber-1", "subscriber-old", "a-secret-key", "twice"} {
			if _, _, err := keys.Generate(ctx, label); !errors.Is(err, hsm.ErrLabelExists) {
				t.Errorf("Generate(%q) = %v, want ErrLabelExists", label, err)
			}
		}
		if _, _, err := keys.Generate(ctx, ""); err == nil {
			t.Error("Generate with no label succeeded")
		}
		lookups := []struct {
			label string
			want  error
		}{
			{"subscriber-none", hsm.ErrKeyNotFound},
			{"a-secret-key", hsm.ErrKeyNotFound},
			{"twice", hsm.ErrKeyAmbiguous},
		}
		for _, l := range lookups {
			if _, err := keys.Signer(ctx, l.label); !errors.Is(err, l.want) {
				t.Errorf("Signer(%q) = %v, want %v", l.label, err, l.want)
			}
		}
		if err := keys.Destroy(ctx, "twice"); !errors.Is(err, hsm.ErrKeyAmbiguous) {
			t.Errorf("Destroy(twice) = %v, want ErrKeyAmbiguous", err)
		}
		if got := labelled(tokenLabels(t, env, "users"), "twice"); len(got) != 4 {
			t.Errorf("after a refused destroy pkcs11-tool lists %v for twice, want 4 objects", got)
		}
	})

	t.Run("destroy", func(t *testing.T) {
		if err := keys.Destroy(ctx, "subscriber-1"); err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256([]byte("after"))
		for name, signer := range map[string]crypto.Signer{"generated": s, "looked up": found} {
			if _, err := signer.Sign(nil, digest[:], crypto.SHA256); !errors.Is(err, hsm.ErrKeyNotFound) {
				t.Errorf("%s signer after Destroy: %v, want ErrKeyNotFound", name, err)
			}
		}
		if _, err := keys.Signer(ctx, "subscriber-1"); !errors.Is(err, hsm.ErrKeyNotFound) {
			t.Errorf("index look-up after Destroy: %v", err)
		}
		if _, err := tok.Signer(ctx, hsm.URI{Token: "users", Object: "subscriber-1"}); !errors.Is(err, hsm.ErrKeyNotFound) {
			t.Errorf("token search after Destroy: %v", err)
		}
		labels := tokenLabels(t, env, "users")
		if got := labelled(labels, "subscriber-1"); len(got) != 0 {
			t.Errorf("pkcs11-tool still lists %v", got)
		}
		if len(labelled(labels, "subscriber-old")) != 2 {
			t.Errorf("pkcs11-tool lost subscriber-old: %v", labels)
		}
		// Destroying again (a resumed revocation) is no error.
		if err := keys.Destroy(ctx, "subscriber-1"); err != nil {
			t.Errorf("second Destroy: %v", err)
		}
		if n := keys.Len(); n != 1 {
			t.Errorf("Len = %d after Destroy, want 1", n)
		}
		// The label is free again; the old signer does not sign with the
		// new key.
		s2, _, err := keys.Generate(ctx, "subscriber-1")
		if err != nil {
			t.Fatal(err)
		}
		signVerifies(t, s2, s2.Public())
		if _, err := s.Sign(nil, digest[:], crypto.SHA256); !errors.Is(err, hsm.ErrKeyNotFound) {
			t.Errorf("the destroyed key's signer after the label was reused: %v, want ErrKeyNotFound", err)
		}
	})
}

func TestSubscriberKeysGenerateOrFind(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "users")
	keys := openSubscriberKeys(t, tok)
	ctx := context.Background()
	first, err := keys.GenerateOrFind(ctx, "subscriber-7")
	if err != nil {
		t.Fatal(err)
	}
	again, err := keys.GenerateOrFind(ctx, "subscriber-7")
	if err != nil {
		t.Fatal(err)
	}
	if !first.(*ecdsa.PublicKey).Equal(again) {
		t.Fatal("GenerateOrFind made a second key")
	}
	if got := labelled(tokenLabels(t, env, "users"), "subscriber-7"); len(got) != 2 {
		t.Fatalf("pkcs11-tool lists %v, want one private and one public key", got)
	}
}

// TestSubscriberKeysDestroyedBehindItsBack destroys a key without the
// index knowing: its next use says ErrKeyNotFound without re-opening the
// token's sessions, and Destroy or Refresh frees the label again.
func TestSubscriberKeysDestroyedBehindItsBack(t *testing.T) {
	_, tok, reg, _, _ := metricToken(t)
	keys := openSubscriberKeys(t, tok)
	ctx := context.Background()
	tests := []struct {
		name string
		free func(label string) error // frees the label for a new key
	}{
		{"then Destroy", func(label string) error { return keys.Destroy(ctx, label) }},
		{"then Refresh", func(string) error { return keys.Refresh(ctx) }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			label := fmt.Sprintf("subscriber-%d", i)
			s, uri, err := keys.Generate(ctx, label)
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.DestroyKeyPair(ctx, uri); err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("x"))
			if _, err := s.Sign(nil, digest[:], crypto.SHA256); !errors.Is(err, hsm.ErrKeyNotFound) {
				t.Fatalf("signing with a key destroyed behind the index: %v, want ErrKeyNotFound", err)
			}
			if _, err := keys.Signer(ctx, label); !errors.Is(err, hsm.ErrKeyNotFound) {
				t.Fatalf("look-up: %v, want ErrKeyNotFound", err)
			}
			if err := tc.free(label); err != nil {
				t.Fatal(err)
			}
			s2, _, err := keys.Generate(ctx, label)
			if err != nil {
				t.Fatalf("Generate after the label was freed: %v", err)
			}
			signVerifies(t, s2, s2.Public())
		})
	}
	if got := counterValue(t, reg, "appliance_hsm_reconnects_total"); got != 0 {
		t.Fatalf("appliance_hsm_reconnects_total = %v, want 0: a stale key handle is no reason to reconnect", got)
	}
}

func TestSubscriberKeysRefreshSeesOtherWriters(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "users")
	keys := openSubscriberKeys(t, tok)
	ctx := context.Background()
	rawPair(t, env, "users", "subscriber-external", []byte{7})
	if _, err := keys.Signer(ctx, "subscriber-external"); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("before Refresh: %v, want ErrKeyNotFound (the index is built once)", err)
	}
	if err := keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := keys.Signer(ctx, "subscriber-external")
	if err != nil {
		t.Fatal(err)
	}
	signVerifies(t, s, s.Public())
}

// TestSubscriberKeysSurviveReconnect invalidates the sessions under the
// running Token, as a device reset would: the index is rebuilt, keys made
// after the first build are still found, and signing goes on.
func TestSubscriberKeysSurviveReconnect(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, p *pkcs11.Ctx, slot uint)
	}{
		{"close all sessions", func(t *testing.T, p *pkcs11.Ctx, slot uint) {
			if err := p.CloseAllSessions(slot); err != nil {
				t.Fatal(err)
			}
		}},
		{"finalise and re-initialise the library", func(t *testing.T, p *pkcs11.Ctx, _ uint) {
			if err := p.Finalize(); err != nil {
				t.Fatal(err)
			}
			if err := p.Initialize(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod, tok, reg, modPath, _ := metricToken(t)
			keys := openSubscriberKeys(t, tok)
			ctx := context.Background()
			s1, _, err := keys.Generate(ctx, "subscriber-1")
			if err != nil {
				t.Fatal(err)
			}
			signVerifies(t, s1, s1.Public())

			raw := pkcs11.New(modPath)
			defer raw.Destroy()
			_ = raw.Initialize() // already initialised by the Token
			tokens, err := mod.Tokens(ctx)
			if err != nil || len(tokens) != 1 {
				t.Fatalf("tokens %v, %v", tokens, err)
			}
			tc.break_(t, raw, tokens[0].Slot)

			for range 3 {
				signVerifies(t, s1, s1.Public())
			}
			again, err := keys.Signer(ctx, "subscriber-1")
			if err != nil {
				t.Fatal(err)
			}
			signVerifies(t, again, s1.Public())
			s2, _, err := keys.Generate(ctx, "subscriber-2")
			if err != nil {
				t.Fatal(err)
			}
			signVerifies(t, s2, s2.Public())
			if n := keys.Len(); n != 2 {
				t.Fatalf("Len = %d after the rebuild, want 2", n)
			}
			if got := counterValue(t, reg, "appliance_hsm_reconnects_total"); got < 1 {
				t.Fatalf("appliance_hsm_reconnects_total = %v, want >= 1", got)
			}
		})
	}
}

func TestSubscriberKeysClosed(t *testing.T) {
	ctx := context.Background()
	t.Run("store closed", func(t *testing.T) {
		env := hsmtest.New(t)
		tok := env.Token(t, "users")
		keys := openSubscriberKeys(t, tok)
		s, _, err := keys.Generate(ctx, "subscriber-1")
		if err != nil {
			t.Fatal(err)
		}
		keys.Close()
		keys.Close()
		if _, err := keys.Signer(ctx, "subscriber-1"); err == nil {
			t.Fatal("look-up on a closed store succeeded")
		}
		digest := sha256.Sum256([]byte("x"))
		if _, err := s.Sign(nil, digest[:], crypto.SHA256); err == nil {
			t.Fatal("signing through a closed store succeeded")
		}
		// The token goes on working.
		ts, err := tok.Signer(ctx, s.URI())
		if err != nil {
			t.Fatal(err)
		}
		signVerifies(t, ts, s.Public())
	})
	t.Run("token closed", func(t *testing.T) {
		env := hsmtest.New(t)
		tok := env.Token(t, "users")
		keys := openSubscriberKeys(t, tok)
		if _, _, err := keys.Generate(ctx, "subscriber-1"); err != nil {
			t.Fatal(err)
		}
		if err := tok.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Signer(ctx, "subscriber-1"); err == nil {
			t.Fatal("look-up on a closed token succeeded")
		}
	})
}

// TestSubscriberKeysConcurrent generates, signs with and destroys keys
// from several goroutines while the index is rebuilt under them.
func TestSubscriberKeysConcurrent(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "users")
	keys := openSubscriberKeys(t, tok)
	ctx := context.Background()
	const workers, rounds = 4, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds+1)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				label := fmt.Sprintf("subscriber-%d-%d", w, r)
				s, _, err := keys.Generate(ctx, label)
				if err != nil {
					errs <- err
					return
				}
				digest := sha256.Sum256([]byte(label))
				for range 5 {
					sig, err := s.Sign(nil, digest[:], crypto.SHA256)
					if err != nil {
						errs <- err
						return
					}
					if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), digest[:], sig) {
						errs <- fmt.Errorf("%s: signature does not verify", label)
						return
					}
				}
				if r%2 == 1 {
					if err := keys.Destroy(ctx, label); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := keys.Refresh(ctx); err != nil {
			errs <- err
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Rounds 0 and 2 of each worker keep their keys.
	if n := keys.Len(); n != workers*2 {
		t.Fatalf("Len = %d, want %d", n, workers*2)
	}
	if err := keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := keys.Len(); n != workers*2 {
		t.Fatalf("Len = %d after Refresh, want %d", n, workers*2)
	}
}
