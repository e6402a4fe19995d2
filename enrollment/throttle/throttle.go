// Package throttle slows down password guessing: per account and per
// client address, failures beyond a free allowance impose a growing wait
// before the next attempt, and too many lock the key for a window. It
// answers how long to wait; callers refuse early (HTTP 429 with
// Retry-After) rather than sleeping.
//
// State is in memory, bounded in size (the oldest keys are forgotten
// first, so a flood of addresses cannot exhaust memory), and lost on
// restart, which a restart-to-reset attack can only exploit as fast as the
// service restarts.
package throttle

import (
	"errors"
	"sync"
	"time"
)

// Policy sets the thresholds.
type Policy struct {
	FreeFailures int           // failures without any wait
	BaseDelay    time.Duration // wait after the first failure beyond the free ones; doubles after each further one
	MaxDelay     time.Duration
	LockAfter    int           // failures that lock the key
	LockWindow   time.Duration // how long a lock lasts
	ForgetAfter  time.Duration // a key with no failure for this long starts afresh
	MaxKeys      int           // bound on remembered keys
}

// DefaultPolicy suits a login form.
func DefaultPolicy() Policy {
	return Policy{FreeFailures: 3, BaseDelay: time.Second, MaxDelay: 5 * time.Minute,
		LockAfter: 10, LockWindow: 15 * time.Minute, ForgetAfter: time.Hour, MaxKeys: 100_000}
}

// ErrLocked means the key is locked; Wait says until when.
var ErrLocked = errors.New("too many failed attempts: locked for a while")

// Limiter tracks failures by key. It is safe for concurrent use.
type Limiter struct {
	policy Policy
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	failures    int
	lastFailure time.Time
	notBefore   time.Time // no attempt before this
}

// New makes a Limiter; now may be nil (time.Now).
func New(p Policy, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{policy: p, now: now, entries: map[string]*entry{}}
}

// Allow reports how long key must still wait before an attempt (0: go
// ahead). A locked key gets ErrLocked with the remaining lock time.
func (l *Limiter) Allow(key string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.get(key)
	if e == nil {
		return 0, nil
	}
	wait := e.notBefore.Sub(l.now())
	if wait <= 0 {
		return 0, nil
	}
	if e.failures >= l.policy.LockAfter {
		return wait, ErrLocked
	}
	return wait, nil
}

// Reserve is Allow and Failure in one step: if key may try now, the
// attempt is counted as failed at once, so that attempts made at the same
// moment cannot all pass the check before any failure is recorded. A
// successful attempt then calls Success or Release.
func (l *Limiter) Reserve(key string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.get(key); e != nil {
		if wait := e.notBefore.Sub(l.now()); wait > 0 {
			if e.failures >= l.policy.LockAfter {
				return wait, ErrLocked
			}
			return wait, nil
		}
	}
	l.failure(key)
	return 0, nil
}

// Release takes back one reserved attempt that turned out not to fail.
func (l *Limiter) Release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.get(key)
	if e == nil {
		return
	}
	e.failures--
	if e.failures <= 0 {
		delete(l.entries, key)
	} else if e.failures < l.policy.LockAfter && e.failures <= l.policy.FreeFailures {
		e.notBefore = time.Time{}
	}
}

// Failure records a failed attempt.
func (l *Limiter) Failure(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failure(key)
}

func (l *Limiter) failure(key string) {
	now := l.now()
	e := l.get(key)
	if e == nil {
		l.evictIfFull()
		e = &entry{}
		l.entries[key] = e
	}
	e.failures++
	e.lastFailure = now
	switch {
	case e.failures >= l.policy.LockAfter:
		e.notBefore = now.Add(l.policy.LockWindow)
	case e.failures > l.policy.FreeFailures:
		d := l.policy.BaseDelay << (e.failures - l.policy.FreeFailures - 1)
		if d > l.policy.MaxDelay || d <= 0 {
			d = l.policy.MaxDelay
		}
		e.notBefore = now.Add(d)
	}
}

// Success forgets a key's failures (a correct password).
func (l *Limiter) Success(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// get returns the live entry of key, dropping it if forgotten.
func (l *Limiter) get(key string) *entry {
	e, ok := l.entries[key]
	if !ok {
		return nil
	}
	now := l.now()
	if now.Sub(e.lastFailure) > l.policy.ForgetAfter && !now.Before(e.notBefore) {
		delete(l.entries, key)
		return nil
	}
	return e
}

// evictIfFull drops the entry with the oldest failure when the map is at
// its bound. Locked keys go last: an attacker cannot unlock an account by
// flooding addresses unless every lock is older.
func (l *Limiter) evictIfFull() {
	if len(l.entries) < l.policy.MaxKeys {
		return
	}
	var oldest string
	var oldestAt time.Time
	now := l.now()
	for k, e := range l.entries {
		locked := now.Before(e.notBefore) && e.failures >= l.policy.LockAfter
		if locked {
			continue
		}
		if oldest == "" || e.lastFailure.Before(oldestAt) {
			oldest, oldestAt = k, e.lastFailure
		}
	}
	if oldest == "" { // all locked: drop the one whose lock ends first
		for k, e := range l.entries {
			if oldest == "" || e.notBefore.Before(oldestAt) {
				oldest, oldestAt = k, e.notBefore
			}
		}
	}
	delete(l.entries, oldest)
}
