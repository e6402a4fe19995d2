package ocsp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	xocsp "golang.org/x/crypto/ocsp"
)

// Respond answers one DER OCSPRequest. resp is always a DER OCSPResponse
// to send: when err is not nil it explains why resp is a malformedRequest,
// unauthorized or internalError response. live reports whether resp was
// signed for this request (a nonce, an unknown serial, or a cache miss).
func (r *Responder) Respond(ctx context.Context, der []byte) (resp []byte, live bool, err error) {
	res := r.respond(ctx, der)
	return bytes.Clone(res.der), res.live, res.err
}

// result is one answer with what the handler and the metrics need.
type result struct {
	der   []byte
	label string // metrics status label
	live  bool   // signed for this request
	nonce bool   // carries the request's nonce: never cache
	etag  string // quoted hex SHA-256 of der, for successful responses
	this  time.Time
	next  time.Time
	err   error
}

// errorResponses are the unsigned error responses by metrics label.
var errorResponses = map[string][]byte{
	labelMalformed:    xocsp.MalformedRequestErrorResponse,
	labelUnauthorized: xocsp.UnauthorizedErrorResponse,
	labelInternal:     xocsp.InternalErrorErrorResponse,
	labelTryLater:     xocsp.TryLaterErrorResponse,
}

// failed is an error answer with the response for label.
func failed(label string, err error) result {
	return result{der: errorResponses[label], label: label, err: err}
}

// respond answers der and records the answer in the metrics and the log.
func (r *Responder) respond(ctx context.Context, der []byte) result {
	res := r.answer(ctx, der)
	r.record(ctx, res)
	return res
}

// record counts res and logs what went wrong, if anything.
func (r *Responder) record(ctx context.Context, res result) {
	source := sourceCache
	if res.live || res.err != nil {
		source = sourceLive
	}
	r.m.responses.WithLabelValues(res.label, source).Inc()
	switch res.label {
	case labelInternal:
		r.log.ErrorContext(ctx, "OCSP internal error", "error", res.err)
	case labelMalformed, labelUnauthorized:
		r.log.DebugContext(ctx, "OCSP request refused", "status", res.label, "error", res.err)
	}
}

func (r *Responder) answer(ctx context.Context, der []byte) result {
	req, err := parseRequest(der)
	if err != nil {
		return failed(labelMalformed, err)
	}
	s := r.find(req)
	if s == nil {
		return failed(labelUnauthorized, fmt.Errorf("no CA served here has issuer name hash %x and key hash %x (%v)", req.nameHash, req.keyHash, req.hash))
	}
	// A nonce asks for a signature of its own. When the live-signing slots
	// are taken (a flood of nonce requests), the nonce is ignored and the
	// pre-signed response served, as RFC 8954 section 2.1 allows.
	if req.nonce != nil && r.acquireLive() {
		defer r.releaseLive()
		st, err := r.lookup(ctx, s, req.serial)
		if err != nil {
			return failed(labelInternal, err)
		}
		out, err := r.signTimed(s, req.hash, req.serial, st, req.nonce)
		if err != nil {
			return failed(labelInternal, err)
		}
		return result{der: out.der, label: statusLabel(out.status), live: true, nonce: true, this: out.thisUpdate, next: out.nextUpdate}
	}
	e, live, err := r.cached(ctx, s, req.hash, req.serial)
	if errors.Is(err, errTryLater) {
		return failed(labelTryLater, err)
	}
	if err != nil {
		return failed(labelInternal, err)
	}
	return result{der: e.der, label: statusLabel(e.status), live: live, etag: e.etag, this: e.thisUpdate, next: e.nextUpdate}
}
