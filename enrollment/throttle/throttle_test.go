package throttle

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestGrowingDelaysAndLock(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	policy := DefaultPolicy()
	l := New(policy, c.now)
	const key = "account:budi"
	// The free failures impose no wait.
	for i := 0; i < policy.FreeFailures; i++ {
		if wait, err := l.Allow(key); wait != 0 || err != nil {
			t.Fatalf("attempt %d: wait %v, %v", i, wait, err)
		}
		l.Failure(key)
	}
	// Then 1s, 2s, 4s, ... before each further attempt.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second} {
		l.Failure(key)
		wait, err := l.Allow(key)
		if wait != want || err != nil {
			t.Fatalf("after failure %d: wait %v (%v), want %v", policy.FreeFailures+i+1, wait, err, want)
		}
		c.advance(want)
		if wait, _ := l.Allow(key); wait != 0 {
			t.Fatalf("still waiting %v after the delay", wait)
		}
	}
	// The tenth failure locks for the window.
	l.Failure(key)
	if wait, err := l.Allow(key); !errors.Is(err, ErrLocked) || wait != policy.LockWindow {
		t.Fatalf("after the lock: %v, %v", wait, err)
	}
	c.advance(policy.LockWindow - time.Second)
	if _, err := l.Allow(key); !errors.Is(err, ErrLocked) {
		t.Fatal("unlocked before the window ended")
	}
	c.advance(time.Second)
	if wait, err := l.Allow(key); wait != 0 || err != nil {
		t.Fatalf("after the window: %v, %v", wait, err)
	}
	// Other keys were never affected; success forgets.
	if wait, _ := l.Allow("address:10.0.0.1"); wait != 0 {
		t.Fatal("another key waits")
	}
	l.Success(key)
	l.Failure(key)
	if wait, _ := l.Allow(key); wait != 0 {
		t.Fatal("a success did not reset the count")
	}
}

func TestForgetAndBound(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	p := DefaultPolicy()
	p.MaxKeys = 3
	l := New(p, c.now)
	for i := 0; i < 5; i++ {
		l.Failure("locked")
		l.Failure("locked")
	}
	if _, err := l.Allow("locked"); !errors.Is(err, ErrLocked) {
		t.Fatal("not locked")
	}
	for i := 0; i < 50; i++ { // a flood of addresses
		c.advance(time.Millisecond)
		l.Failure(fmt.Sprintf("address:%d", i))
	}
	if len(l.entries) > p.MaxKeys {
		t.Fatalf("%d keys remembered, bound %d", len(l.entries), p.MaxKeys)
	}
	if _, err := l.Allow("locked"); !errors.Is(err, ErrLocked) {
		t.Fatal("a flood of new keys unlocked the account")
	}
	for i := 0; i <= p.FreeFailures; i++ {
		l.Failure("quiet")
	}
	if wait, _ := l.Allow("quiet"); wait == 0 {
		t.Fatal("no wait after the free failures")
	}
	c.advance(p.ForgetAfter + time.Second)
	if wait, err := l.Allow("quiet"); wait != 0 || err != nil {
		t.Fatalf("an old failure still counts: %v, %v", wait, err)
	}
	if _, ok := l.entries["quiet"]; ok {
		t.Fatal("a forgotten key is still remembered")
	}
}

// TestReserveBoundsAConcurrentBurst: attempts made at the same moment are
// counted as they pass, so a burst gets through only the free ones plus
// one before the waits begin.
func TestReserveBoundsAConcurrentBurst(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	p := DefaultPolicy()
	l := New(p, c.now)
	passed := 0
	for i := 0; i < 40; i++ { // no time passes: a burst
		if wait, _ := l.Reserve("account:x"); wait == 0 {
			passed++
		}
	}
	if passed != p.FreeFailures+1 {
		t.Fatalf("%d of a burst of 40 passed, want %d", passed, p.FreeFailures+1)
	}
	// A reservation that succeeds is taken back.
	l2 := New(p, c.now)
	for i := 0; i < p.FreeFailures; i++ {
		l2.Reserve("address:y")
		l2.Release("address:y")
	}
	if wait, err := l2.Allow("address:y"); wait != 0 || err != nil {
		t.Fatalf("released reservations still count: %v, %v", wait, err)
	}
}
