package portal

import (
	"context"
	"github.com/psre/appliance/signing"
	"net/http"
	"time"

	"github.com/gorilla/csrf"
	"github.com/psre/appliance/enrollment/upload"
)

// ContentSecurityPolicy allows no inline script or style: scripts and
// styles are files under /static/.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Request body limits: forms, the requests that carry one image or
// payment proof, and the correction form with up to three images.
const (
	formLimit       = 64 << 10
	uploadLimit     = upload.MaxBytes + 64<<10
	correctionLimit = 3*upload.MaxBytes + 64<<10
)

var uploadPaths = map[string]int64{
	"/register/foto": uploadLimit, "/register/selfie": uploadLimit, "/register/specimen": uploadLimit,
	"/account/payment-proof": uploadLimit, "/account/corrections": correctionLimit,
	"/tandatangan": signing.MaxBytes + 64<<10,
}

// securityHeaders sets the headers of every response. Every page is
// no-store (forms and personal data); static files override it.
func (p *Portal) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", ReferrerPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=(), usb=()")
		h.Set("Cache-Control", "no-store")
		if p.cfg.Secure {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// ReferrerPolicy is same-origin, not no-referrer: under no-referrer
// browsers send "Origin: null" with every form POST, which gorilla/csrf
// (v1.7.3 checks Origin against the request's own origin) refuses, so no
// form would work. same-origin sends nothing to other sites, which is what
// no-referrer was for; our URLs carry no personal data either way.
const ReferrerPolicy = "same-origin"

// limitBody bounds request bodies: 64 KiB for forms, an image plus 64 KiB
// where an image or a payment proof is posted (three on the correction
// form). A declared length over the limit is refused at
// once with 413; a longer body is cut off while it is read.
func (p *Portal) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(formLimit)
		if l, ok := uploadPaths[r.URL.Path]; ok {
			limit = l
		}
		if r.ContentLength > limit {
			p.tooLarge(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// plaintext tells gorilla/csrf that a request came over plain HTTP (the
// demo on http://127.0.0.1), so that it expects an http:// Origin.
func (p *Portal) plaintext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.cfg.Secure && r.TLS == nil {
			r = csrf.PlaintextHTTPRequest(r)
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs each request's method, route pattern (never the URL or
// any form value: no personal data in logs), status and duration.
func (p *Portal) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &routeInfo{}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, info)))
		p.log.InfoContext(r.Context(), "portal request", "method", r.Method, "route", info.pattern,
			"status", sw.status, "duration", time.Since(start).Round(time.Microsecond))
	})
}

type routeKey struct{}

type routeInfo struct{ pattern string }

// recordRoute runs the mux and notes the pattern it matched for the log.
func recordRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if info, ok := r.Context().Value(routeKey{}).(*routeInfo); ok {
			info.pattern = r.Pattern
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
