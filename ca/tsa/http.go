package tsa

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

const (
	// MaxRequestSize bounds a request body. A SHA-512 request with a
	// nonce and a policy is under 200 bytes.
	MaxRequestSize  = 16 << 10
	contentQuery    = "application/timestamp-query"
	contentResponse = "application/timestamp-reply"
)

// ServeHTTP answers RFC 3161 section 3.4 requests: POST with Content-Type
// application/timestamp-query. Every request that reaches the parser is
// answered with HTTP 200 and an application/timestamp-reply, granted or
// rejected; only HTTP-level mistakes get HTTP errors.
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		r.m.responses.WithLabelValues(labelMethodNotAllowed).Inc()
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "send time-stamp requests with POST", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != contentQuery {
		r.m.responses.WithLabelValues(labelUnsupportedMedia).Inc()
		http.Error(w, "a time-stamp request must be sent as "+contentQuery, http.StatusUnsupportedMediaType)
		return
	}
	der, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxRequestSize))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			r.m.responses.WithLabelValues(labelTooLarge).Inc()
			http.Error(w, "time-stamp request too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the request failed", http.StatusBadRequest)
		return
	}
	resp := r.Respond(req.Context(), der)
	h := w.Header()
	h.Set("Content-Type", contentResponse)
	h.Set("Content-Length", strconv.Itoa(len(resp)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(resp)
}
