package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	xocsp "golang.org/x/crypto/ocsp"
)

// certIDHashes are the CertID hash algorithms served and pre-signed.
var certIDHashes = []crypto.Hash{crypto.SHA1, crypto.SHA256}

// cacheKey names one cached response. serial is lower-case hex, as the
// store and ca.SerialHex write it.
type cacheKey struct {
	ca, serial string
	hash       crypto.Hash
}

// storeSerial is the serial part of the persistent key: the hex serial for
// SHA-1 CertIDs, with a "/sha256" suffix for SHA-256 ones.
func (k cacheKey) storeSerial() string {
	if k.hash == crypto.SHA1 {
		return k.serial
	}
	return k.serial + "/sha256"
}

// entry is one signed response kept for requests without a nonce.
type entry struct {
	key    cacheKey
	serial *big.Int
	signed
	etag string
}

func newEntry(k cacheKey, serial *big.Int, out signed) *entry {
	sum := sha256.Sum256(out.der)
	return &entry{key: k, serial: new(big.Int).Set(serial), signed: out, etag: `"` + hex.EncodeToString(sum[:]) + `"`}
}

// fresh reports whether at least half of e's lifetime is left at now.
func (e *entry) fresh(now time.Time) bool {
	half := e.nextUpdate.Sub(e.thisUpdate) / 2
	return !now.After(e.nextUpdate.Add(-half))
}

// memCache holds the entries and a lock per certificate (CA and serial)
// that makes one goroutine sign while the others wait for its result.
type memCache struct {
	mu      sync.RWMutex
	entries map[cacheKey]*entry
	locks   map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func newMemCache() *memCache {
	return &memCache{entries: make(map[cacheKey]*entry), locks: make(map[string]*keyLock)}
}

func (c *memCache) get(k cacheKey) *entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.entries[k]
}

func (c *memCache) put(e *entry) {
	c.mu.Lock()
	c.entries[e.key] = e
	c.mu.Unlock()
}

func (c *memCache) drop(keys ...cacheKey) {
	c.mu.Lock()
	for _, k := range keys {
		delete(c.entries, k)
	}
	c.mu.Unlock()
}

// stale lists the entries with less than half their lifetime left.
func (c *memCache) stale(now time.Time) []*entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*entry
	for _, e := range c.entries {
		if !e.fresh(now) {
			out = append(out, e)
		}
	}
	return out
}

// lock takes the lock of one certificate and returns its release.
func (c *memCache) lock(ca, serial string) (unlock func()) {
	name := ca + "/" + serial
	c.mu.Lock()
	l := c.locks[name]
	if l == nil {
		l = &keyLock{}
		c.locks[name] = l
	}
	l.refs++
	c.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		c.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(c.locks, name)
		}
		c.mu.Unlock()
	}
}

// errTryLater means every live-signing slot is taken.
var errTryLater = errors.New("too many OCSP responses are being signed for single requests; try later")

// cached returns the response for a request without a nonce: from memory,
// from the Cache, or signed now (live). If signing fails, a previous
// response that has not expired is served instead.
func (r *Responder) cached(ctx context.Context, s *served, hash crypto.Hash, serial *big.Int) (*entry, bool, error) {
	k := cacheKey{ca: s.CA, serial: serial.Text(16), hash: hash}
	if e := r.mem.get(k); e != nil && e.fresh(r.cfg.Now()) {
		return e, false, nil
	}
	unlock := r.mem.lock(k.ca, k.serial)
	defer unlock()
	now := r.cfg.Now()
	old := r.mem.get(k)
	if old == nil {
		old = r.load(ctx, s, k, serial, now)
		if old != nil && old.fresh(now) {
			r.mem.put(old)
			return old, false, nil
		}
	} else if old.fresh(now) {
		return old, false, nil // signed by the goroutine we waited for
	}
	st, err := r.lookup(ctx, s, serial)
	if err == nil && st.Status == xocsp.Unknown {
		// Signed for this request only and never kept: bounded.
		if !r.acquireLive() {
			return nil, false, errTryLater
		}
		defer r.releaseLive()
	}
	var e *entry
	if err == nil {
		e, err = r.signEntry(ctx, s, k, serial, st)
	}
	if err != nil {
		if old != nil && now.Before(old.nextUpdate) {
			r.log.WarnContext(ctx, "serving the previous OCSP response: signing a new one failed", "ca", k.ca, "serial", k.serial, "error", err)
			return old, false, nil
		}
		return nil, false, err
	}
	return e, true, nil
}

// load reads k from the persistent Cache. It returns nil when there is no
// usable response: none, expired, unreadable, or from another responder
// certificate (after a renewal).
func (r *Responder) load(ctx context.Context, s *served, k cacheKey, serial *big.Int, now time.Time) *entry {
	if r.cfg.Cache == nil {
		return nil
	}
	der, next, ok, err := r.cfg.Cache.GetOCSP(k.ca, k.storeSerial())
	if err != nil {
		r.log.WarnContext(ctx, "OCSP cache read failed; signing afresh", "ca", k.ca, "serial", k.serial, "error", err)
		return nil
	}
	if !ok || !now.Before(next) {
		return nil
	}
	resp, err := xocsp.ParseResponse(der, s.Issuer)
	if err != nil || resp.Certificate == nil || !bytes.Equal(resp.Certificate.Raw, s.Responder.Raw) ||
		resp.SerialNumber.Cmp(serial) != 0 || resp.IssuerHash != k.hash {
		r.log.DebugContext(ctx, "stored OCSP response not reused", "ca", k.ca, "serial", k.serial, "error", err)
		return nil
	}
	return newEntry(k, serial, signed{der: der, status: resp.Status, thisUpdate: resp.ThisUpdate, nextUpdate: resp.NextUpdate})
}

// signEntry signs a response with status st and keeps it in memory and in
// the Cache, unless the serial is unknown: those are never kept.
func (r *Responder) signEntry(ctx context.Context, s *served, k cacheKey, serial *big.Int, st CertStatus) (*entry, error) {
	out, err := r.signTimed(s, k.hash, serial, st, nil)
	if err != nil {
		return nil, err
	}
	e := newEntry(k, serial, out)
	if st.Status == xocsp.Unknown {
		r.mem.drop(k)
		return e, nil
	}
	r.mem.put(e)
	if r.cfg.Cache != nil {
		if err := r.cfg.Cache.PutOCSP(k.ca, k.storeSerial(), out.der, out.status == xocsp.Revoked, out.thisUpdate, out.nextUpdate); err != nil {
			r.log.WarnContext(ctx, "OCSP cache write failed; the response is kept in memory", "ca", k.ca, "serial", k.serial, "error", err)
		}
	}
	return e, nil
}

// target checks Presign's and Invalidate's arguments.
func (r *Responder) target(ca string, serial *big.Int) (*served, error) {
	s := r.byCA[ca]
	if s == nil {
		return nil, fmt.Errorf("OCSP: CA %q is not served here", ca)
	}
	if serial == nil || serial.Sign() <= 0 {
		return nil, fmt.Errorf("OCSP: serial %v is not a positive integer", serial)
	}
	return s, nil
}

// presign signs and keeps the responses of every served CertID hash.
func (r *Responder) presign(ctx context.Context, s *served, serial *big.Int, st CertStatus) error {
	var errs []error
	for _, h := range certIDHashes {
		_, err := r.signEntry(ctx, s, cacheKey{ca: s.CA, serial: serial.Text(16), hash: h}, serial, st)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
