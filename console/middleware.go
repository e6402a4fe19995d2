package console

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ContentSecurityPolicy allows no script at all, styles and images from
// the console only, and forms posting back to it.
const ContentSecurityPolicy = "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// formLimit bounds request bodies: the console only receives small forms.
const formLimit = 64 << 10

// securityHeaders sets the headers of every response. Everything is
// no-store: the pages and files hold personal data.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: gorilla/csrf refuses a TLS POST
		// that carries neither Origin nor Referer.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		h.Set("Cache-Control", "no-store")
		h.Set("Strict-Transport-Security", "max-age=63072000")
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses a declared body over formLimit and cuts a longer one
// off while it is read.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > formLimit {
			w.Header().Set("Connection", "close")
			http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, formLimit)
		next.ServeHTTP(w, r)
	})
}

// metrics are the console's Prometheus collectors.
type metrics struct {
	requests     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appliance_console_requests_total",
			Help: "Console requests by route pattern and status code.",
		}, []string{"route", "code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appliance_console_auth_failures_total",
			Help: "Console requests refused before any handler: unknown, disabled or revoked officers, wrong role, CSRF.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.requests, m.authFailures} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("register console metrics: %w", err)
		}
	}
	return m, nil
}

// routeInfo is filled in while a request runs, for its log line and
// metric: the route pattern (never the path: it holds application ids)
// and the officer's name.
type routeInfo struct{ pattern, officer string }

type routeKey struct{}

func infoOf(r *http.Request) *routeInfo {
	if info, ok := r.Context().Value(routeKey{}).(*routeInfo); ok {
		return info
	}
	return &routeInfo{}
}

func routeOf(r *http.Request) string        { return infoOf(r).pattern }
func noteOfficer(r *http.Request, n string) { infoOf(r).officer = n }

// route notes the pattern a request matched.
func (c *Console) route(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoOf(r).pattern = pattern
		next.ServeHTTP(w, r)
	})
}

// observe logs and counts every request.
func (c *Console) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &routeInfo{pattern: "unmatched"}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, info)))
		c.metrics.requests.WithLabelValues(info.pattern, fmt.Sprint(sw.status)).Inc()
		c.log.InfoContext(r.Context(), "console request", "route", info.pattern, "status", sw.status,
			"officer", info.officer, "duration", time.Since(start).Round(time.Microsecond))
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
