package ocsp

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	xocsp "golang.org/x/crypto/ocsp"
)

// Presign signs and caches the responses for serial now (SHA-1 and SHA-256
// CertIDs), typically right after issuance, so that the first request is
// served from the cache. The status function must already know the serial.
func (r *Responder) Presign(ctx context.Context, ca string, serial *big.Int) error {
	s, err := r.target(ca, serial)
	if err != nil {
		return err
	}
	unlock := r.mem.lock(ca, serial.Text(16))
	defer unlock()
	st, err := r.lookup(ctx, s, serial)
	if err != nil {
		return err
	}
	if st.Status == xocsp.Unknown {
		return fmt.Errorf("OCSP presign: %s serial %x is unknown to the status function", ca, serial)
	}
	return r.presign(ctx, s, serial, st)
}

// Invalidate drops the cached responses for serial (memory and, if the
// Cache has DeleteOCSP, persistent) and signs fresh ones at once; call it
// after the status changed (revocation). Requests arriving meanwhile wait
// for the fresh response rather than get the old one.
func (r *Responder) Invalidate(ctx context.Context, ca string, serial *big.Int) error {
	s, err := r.target(ca, serial)
	if err != nil {
		return err
	}
	hexSerial := serial.Text(16)
	unlock := r.mem.lock(ca, hexSerial)
	defer unlock()
	var errs []error
	for _, h := range certIDHashes {
		r.mem.drop(cacheKey{ca: ca, serial: hexSerial, hash: h})
	}
	if deleter, ok := r.cfg.Cache.(interface{ DeleteOCSP(ca, serial string) error }); ok {
		if err := deleter.DeleteOCSP(ca, hexSerial); err != nil {
			errs = append(errs, fmt.Errorf("drop the stored OCSP responses: %w", err))
		}
	}
	st, err := r.lookup(ctx, s, serial)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if st.Status != xocsp.Unknown {
		errs = append(errs, r.presign(ctx, s, serial, st))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("OCSP invalidate %s serial %x: %w", ca, serial, err)
	}
	return nil
}

// Refresh signs again every response held in memory that has less than
// half of its lifetime left, with the status as it is now, and returns how
// many it signed. The service calls it on a schedule (say every
// Lifetime/8); responses only in the persistent Cache are refreshed when
// next requested.
func (r *Responder) Refresh(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	for _, old := range r.mem.stale(r.cfg.Now()) {
		if err := ctx.Err(); err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		ok, err := r.refresh(ctx, old)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			n++
			r.m.refreshes.Inc()
		}
	}
	return n, errors.Join(errs...)
}

// refresh signs old's response again unless it was replaced or dropped
// since the snapshot.
func (r *Responder) refresh(ctx context.Context, old *entry) (bool, error) {
	s := r.byCA[old.key.ca]
	unlock := r.mem.lock(old.key.ca, old.key.serial)
	defer unlock()
	if r.mem.get(old.key) != old {
		return false, nil
	}
	st, err := r.lookup(ctx, s, old.serial)
	if err != nil {
		return false, err
	}
	if _, err := r.signEntry(ctx, s, old.key, old.serial, st); err != nil {
		return false, err
	}
	return st.Status != xocsp.Unknown, nil
}
