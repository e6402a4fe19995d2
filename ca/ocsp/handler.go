package ocsp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// maxRequestSize bounds a POST body and a decoded GET request.
	maxRequestSize  = 64 << 10
	contentRequest  = "application/ocsp-request"
	contentResponse = "application/ocsp-response"
)

// ServeHTTP serves RFC 6960 appendix A / RFC 5019 section 5 requests:
// POST with Content-Type application/ocsp-request, or GET with the
// base64 request (URL-escaped or not) as the rest of the path after
// "/ocsp/" or "/" (so it works mounted at /ocsp/ with or without
// http.StripPrefix).
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var der []byte
	switch req.Method {
	case http.MethodGet:
		var err error
		if der, err = requestFromPath(req.URL); err != nil {
			res := failed(labelMalformed, malformed("%v", err))
			r.record(req.Context(), res)
			r.write(w, req, res)
			return
		}
	case http.MethodPost:
		mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
		if err != nil || mt != contentRequest {
			http.Error(w, "an OCSP request must be sent as "+contentRequest, http.StatusUnsupportedMediaType)
			return
		}
		der, err = io.ReadAll(http.MaxBytesReader(w, req.Body, maxRequestSize))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				http.Error(w, "OCSP request too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the request failed", http.StatusBadRequest)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	r.write(w, req, r.respond(req.Context(), der))
}

// requestFromPath decodes the base64 request from a GET path. It works on
// the escaped path, so that %2F in the request is not taken for a path
// separator, and accepts the standard alphabet with or without padding.
func requestFromPath(u *url.URL) ([]byte, error) {
	p := strings.TrimPrefix(u.EscapedPath(), "/")
	if rest, ok := strings.CutPrefix(p, "ocsp/"); ok {
		p = rest
	} else if p == "ocsp" {
		p = ""
	}
	s, err := url.PathUnescape(p)
	if err != nil {
		return nil, fmt.Errorf("bad URL escape in the GET path: %v", err)
	}
	if s == "" {
		return nil, errors.New("no request in the GET path")
	}
	if len(s) > base64.StdEncoding.EncodedLen(maxRequestSize) {
		return nil, errors.New("GET request too long")
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		der, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("the GET path is not base64: %v", err)
	}
	return der, nil
}

// write sends res with the RFC 5019 section 6 caching headers.
func (r *Responder) write(w http.ResponseWriter, req *http.Request, res result) {
	h := w.Header()
	h.Set("Content-Type", contentResponse)
	switch {
	case res.err != nil:
		h.Set("Cache-Control", "no-store")
	case res.nonce:
		h.Set("Cache-Control", "no-cache, no-store")
	default:
		maxAge := max(int64(res.next.Sub(r.cfg.Now())/time.Second), 0)
		h.Set("Last-Modified", res.this.UTC().Format(http.TimeFormat))
		h.Set("Expires", res.next.UTC().Format(http.TimeFormat))
		h.Set("Cache-Control", fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", maxAge))
		if res.etag != "" {
			h.Set("ETag", res.etag)
			if req.Method == http.MethodGet && etagMatches(req.Header.Get("If-None-Match"), res.etag) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(res.der)))
	w.WriteHeader(http.StatusOK)
	w.Write(res.der)
}

// etagMatches is the weak comparison of If-None-Match (RFC 9110 13.1.2).
func etagMatches(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}
