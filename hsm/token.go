package hsm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// DefaultMaxSessions bounds the crypto11 session pool of a Token.
const DefaultMaxSessions = 16

// gcmNonceSize is the AES-GCM IV length used with the KEK (NIST SP 800-38D).
const gcmNonceSize = 12

// Token is a logged-in PKCS#11 token. It is safe for concurrent use. When an
// operation fails because the sessions are gone, the Token re-opens them and
// logs in again, then retries the operation once if it is idempotent.
type Token struct {
	mod         *Module
	sel         URI
	name        string
	pin         string
	maxSessions int

	mu     sync.RWMutex
	c11    *crypto11.Context
	gen    uint64 // bumped on every successful (re)connect
	closed bool
	// loginErr is set when a reconnect's login was refused (wrong, locked
	// or expired PIN). Trying again would only count down the token's
	// retry counter and lock the PIN, so reconnects fail fast until the
	// token is opened again with a good PIN.
	loginErr error

	genMu sync.Mutex // serialises key generation (label uniqueness)

	// resetHooks run, with mu held, before the connection is replaced or
	// closed (SubscriberKeys closes its sessions there; see
	// subscriber_keys.go).
	resetHooks map[any]func()
}

// TokenOptions are the optional parts of OpenToken.
type TokenOptions struct {
	MaxSessions int // 0: DefaultMaxSessions; at least 2
}

// conn is one generation of the connection to the token.
type conn struct {
	c   *crypto11.Context
	gen uint64
}

// OpenToken selects the token named by sel (token= and/or serial=; other
// attributes are ignored) and logs in with pin.
func (m *Module) OpenToken(ctx context.Context, sel URI, pin string, opts TokenOptions) (*Token, error) {
	if sel.Token == "" && sel.Serial == "" {
		return nil, fmt.Errorf("open token: the URI %s names no token: add token=LABEL or serial=SERIAL", sel)
	}
	name := describeToken(sel)
	if pin == "" {
		return nil, fmt.Errorf("open token %s: %w", name, ErrPINMissing)
	}
	tokens, err := m.Tokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("open token %s: %w", name, err)
	}
	info, err := findToken(tokens, sel)
	if err != nil {
		return nil, err
	}
	if info.flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
		return nil, fmt.Errorf("open token %s: %w", name, ErrPINLocked)
	}
	if info.flags&pkcs11.CKF_USER_PIN_INITIALIZED == 0 {
		return nil, fmt.Errorf("open token %s: the token has no user PIN yet: a security officer must set one (C_InitPIN)", name)
	}
	maxSessions := opts.MaxSessions
	if maxSessions == 0 {
		maxSessions = DefaultMaxSessions
	}
	if maxSessions < 2 {
		return nil, fmt.Errorf("open token %s: MaxSessions must be at least 2", name)
	}
	t := &Token{mod: m, sel: URI{Token: info.Label, Serial: info.Serial}, name: info.Label, pin: pin, maxSessions: maxSessions}
	start := time.Now()
	c, err := t.configure()
	m.metrics.observe("login", start, err)
	if err != nil {
		return nil, err
	}
	t.c11, t.gen = c, 1
	m.log.InfoContext(ctx, "token opened", "token", info.Label, "serial", info.Serial)
	return t, nil
}

// Name describes the token for messages: its label.
func (t *Token) Name() string { return t.sel.Token }

// Serial is the token's serial number.
func (t *Token) Serial() string { return t.sel.Serial }

// configure opens a crypto11 context for the token and logs it in. If that
// fails because the token is gone, the error lists the tokens present.
func (t *Token) configure() (*crypto11.Context, error) {
	c, err := t.configureLocked()
	if err != nil && Classify(err) != ClassPIN {
		if tokens, lerr := t.mod.Tokens(context.Background()); lerr == nil {
			if _, ferr := findToken(tokens, t.sel); ferr != nil {
				return nil, ferr
			}
		}
	}
	return c, err
}

func (t *Token) configureLocked() (*crypto11.Context, error) {
	t.mod.mu.Lock()
	defer t.mod.mu.Unlock()
	c, err := crypto11.Configure(&crypto11.Config{
		Path:            t.mod.path,
		TokenSerial:     t.sel.Serial,
		Pin:             t.pin,
		MaxSessions:     t.maxSessions,
		PoolWaitTimeout: 30 * time.Second,
		GCMIVLength:     gcmNonceSize,
	})
	if err != nil {
		var ckr pkcs11.Error
		if errors.As(err, &ckr) && Classify(ckr) == ClassPIN {
			return nil, loginError(t.name, err)
		}
		return nil, fmt.Errorf("open token %s: %w", t.name, err)
	}
	return c, nil
}

// current returns the live connection, reconnecting first if an earlier
// failure left none.
func (t *Token) current() (conn, error) {
	t.mu.RLock()
	c, gen, closed := t.c11, t.gen, t.closed
	t.mu.RUnlock()
	if closed {
		return conn{}, errors.New("token " + t.name + " is closed")
	}
	if c != nil {
		return conn{c, gen}, nil
	}
	if err := t.reconnect(gen); err != nil {
		return conn{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.c11 == nil {
		return conn{}, fmt.Errorf("token %s: %w", t.name, ErrSessionLost)
	}
	return conn{t.c11, t.gen}, nil
}

// reconnect replaces the connection of generation gen with a new one. If
// another goroutine already replaced it, it does nothing.
func (t *Token) reconnect(gen uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("token " + t.name + " is closed")
	}
	if t.gen != gen && t.c11 != nil {
		return nil
	}
	if t.loginErr != nil {
		return fmt.Errorf("token %s is not logged in and will not retry the rejected PIN (reopen the token with a good PIN): %w", t.name, t.loginErr)
	}
	t.runResetHooks()
	if old := t.c11; old != nil {
		t.c11 = nil
		t.closeContext(old)
	}
	start := time.Now()
	c, err := t.configure()
	t.mod.metrics.observe("login", start, err)
	if err != nil {
		if Classify(err) == ClassPIN {
			t.loginErr = err
			t.mod.log.Error("re-opening token sessions: the PIN was rejected; not retrying it", "token", t.name, "error", err)
			return err
		}
		t.mod.log.Warn("re-opening token sessions failed; the next operation tries again", "token", t.name, "error", err)
		return err
	}
	t.c11 = c
	t.gen++
	t.mod.metrics.reconnected()
	t.mod.log.Info("token sessions re-opened", "token", t.name, "generation", t.gen)
	return nil
}

func (t *Token) closeContext(c *crypto11.Context) {
	t.mod.mu.Lock()
	defer t.mod.mu.Unlock()
	_ = c.Close()
}

// run performs op with the current connection. On an error that means
// the sessions are lost, it reconnects and, if retry is set, tries once more.
func (t *Token) run(op string, retry bool, f func(conn) error) error {
	start := time.Now()
	cn, err := t.current()
	if err == nil {
		err = f(cn)
		if err != nil && needsReconnect(err) {
			t.mod.log.Warn("HSM operation failed; re-opening sessions", "token", t.name, "operation", op, "error", err)
			t.mod.metrics.recovering(err)
			if rerr := t.reconnect(cn.gen); rerr != nil {
				err = fmt.Errorf("%w; re-opening the sessions failed: %w", err, rerr)
			} else if retry {
				if cn, err = t.current(); err == nil {
					err = f(cn)
				}
			}
		}
	}
	t.mod.metrics.observe(op, start, err)
	return err
}

// Close logs out and closes all sessions. Signers from t stop working.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.runResetHooks()
	if t.c11 != nil {
		t.closeContext(t.c11)
		t.c11 = nil
	}
	return nil
}
