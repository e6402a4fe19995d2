package ocsp_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/ca/ocsp"
	xocsp "golang.org/x/crypto/ocsp"
)

// serve mounts r at /ocsp and /ocsp/ on a real TCP listener.
func serve(t testing.TB, r *ocsp.Responder) *httptest.Server {
	t.Helper()
	// Mounted as cmd/appliance mounts it: ahead of any router, because
	// http.ServeMux redirects paths holding "//", which a GET request's
	// base64 can (the redirect would corrupt the request).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/ocsp" || strings.HasPrefix(req.URL.Path, "/ocsp/") {
			r.ServeHTTP(w, req)
			return
		}
		http.NotFound(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t testing.TB, method, url, contentType string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// escapedRequest finds a request whose base64 holds '+' and '/' (serials
// vary until it does), so that escaping is exercised.
func escapedRequest(t testing.TB, f *fixture) (req []byte, b64 string) {
	t.Helper()
	for i := int64(1); i < 4096; i++ {
		serial := (i * 0x1000193 * 0x10001) & (1<<62 - 1) // lengths vary, and so padding
		req = f.request(t, f.leaf(t, serial, false), crypto.SHA1)
		b64 = base64.StdEncoding.EncodeToString(req)
		if strings.ContainsAny(b64, "+") && strings.Contains(b64, "/") && strings.HasSuffix(b64, "=") {
			f.status.set(serial, ocsp.CertStatus{Status: xocsp.Good})
			return req, b64
		}
	}
	t.Fatal("no request with '+', '/' and '=' in its base64")
	return nil, ""
}

func TestHTTPGetAndPost(t *testing.T) {
	f := newFixture(t)
	r := f.responder(t, nil, nil)
	srv := serve(t, r)
	req, b64 := escapedRequest(t, f)
	escaped := strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(b64)
	var first []byte
	for _, path := range []string{"/ocsp/" + escaped, "/ocsp/" + strings.ReplaceAll(b64, "=", "%3D"), "/ocsp/" + strings.TrimRight(b64, "=")} {
		resp, body := do(t, http.MethodGet, srv.URL+path, "", nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/ocsp-response" {
			t.Fatalf("GET %s: %s %s", path, resp.Status, resp.Header.Get("Content-Type"))
		}
		p := f.parse(t, body)
		if first == nil {
			first = body
		} else if !bytes.Equal(body, first) {
			t.Fatalf("GET %s: a different response than the cached one", path)
		}
		sum := sha256.Sum256(body)
		maxAge := int(p.NextUpdate.Sub(f.clock.Now()) / time.Second)
		for h, want := range map[string]string{
			"Last-Modified": p.ThisUpdate.Format(http.TimeFormat),
			"Expires":       p.NextUpdate.Format(http.TimeFormat),
			"Cache-Control": "max-age=" + strconv.Itoa(maxAge) + ", public, no-transform, must-revalidate",
			"ETag":          `"` + hex.EncodeToString(sum[:]) + `"`,
		} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, h, got, want)
			}
		}
	}
	// Relative to the mount point (http.StripPrefix), and conditional.
	rec := httptest.NewRecorder()
	hreq := httptest.NewRequest(http.MethodGet, "/"+escaped, nil)
	r.ServeHTTP(rec, hreq)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), first) {
		t.Fatalf("GET /<b64>: %d", rec.Code)
	}
	resp, _ := do(t, http.MethodGet, srv.URL+"/ocsp/"+escaped, "", nil, "If-None-Match", rec.Header().Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %s", resp.Status)
	}

	resp, body := do(t, http.MethodPost, srv.URL+"/ocsp", "application/ocsp-request", req)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, first) {
		t.Fatalf("POST: %s", resp.Status)
	}
	resp, body = do(t, http.MethodPost, srv.URL+"/ocsp", "application/ocsp-request", withNonce(t, req, []byte("0123456789abcdef")))
	if f.parse(t, body).Status != xocsp.Good || resp.Header.Get("Cache-Control") != "no-cache, no-store" || resp.Header.Get("ETag") != "" {
		t.Fatalf("POST with nonce: Cache-Control %q ETag %q", resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
	}
}

func TestHTTPRefusals(t *testing.T) {
	f := newFixture(t)
	srv := serve(t, f.responder(t, nil, nil))
	req := f.request(t, f.leaf(t, 0xa001, false), crypto.SHA1)
	for _, tc := range []struct {
		name, method, path, ctype string
		body                      []byte
		code                      int
		ocsp                      []byte
	}{
		{"bad base64", http.MethodGet, "/ocsp/not*base64!", "", nil, 200, xocsp.MalformedRequestErrorResponse},
		{"empty GET", http.MethodGet, "/ocsp/", "", nil, 200, xocsp.MalformedRequestErrorResponse},
		{"base64 of garbage", http.MethodGet, "/ocsp/" + base64.StdEncoding.EncodeToString([]byte("hello")), "", nil, 200, xocsp.MalformedRequestErrorResponse},
		{"garbage POST", http.MethodPost, "/ocsp", "application/ocsp-request", []byte("hello"), 200, xocsp.MalformedRequestErrorResponse},
		{"foreign issuer", http.MethodPost, "/ocsp", "application/ocsp-request", f.request(t, f.leaf(t, 1, true), crypto.SHA1), 200, xocsp.UnauthorizedErrorResponse},
		{"wrong content type", http.MethodPost, "/ocsp", "text/plain", req, http.StatusUnsupportedMediaType, nil},
		{"too large", http.MethodPost, "/ocsp", "application/ocsp-request", make([]byte, 64<<10+1), http.StatusRequestEntityTooLarge, nil},
		{"PUT", http.MethodPut, "/ocsp", "application/ocsp-request", req, http.StatusMethodNotAllowed, nil},
		{"DELETE", http.MethodDelete, "/ocsp/" + base64.StdEncoding.EncodeToString(req), "", nil, http.StatusMethodNotAllowed, nil},
	} {
		resp, body := do(t, tc.method, srv.URL+tc.path, tc.ctype, tc.body)
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %s, want %d", tc.name, resp.Status, tc.code)
			continue
		}
		if tc.ocsp == nil {
			continue
		}
		if !bytes.Equal(body, tc.ocsp) || resp.Header.Get("Cache-Control") != "no-store" ||
			resp.Header.Get("Content-Type") != "application/ocsp-response" || resp.Header.Get("ETag") != "" || resp.Header.Get("Expires") != "" {
			t.Errorf("%s: body %x, headers %v", tc.name, body, resp.Header)
		}
	}
}

// TestGETWithDoubleSlash: a request whose base64 holds "//", sent
// unescaped, is answered (it was the rare failure of this package's tests
// while they mounted the responder on an http.ServeMux).
func TestGETWithDoubleSlash(t *testing.T) {
	f := newFixture(t)
	srv := serve(t, f.responder(t, nil, nil))
	for i := int64(1); i < 1<<14; i++ {
		serial := (i * 0x9E3779B1) & (1<<62 - 1)
		b64 := base64.StdEncoding.EncodeToString(f.request(t, f.leaf(t, serial, false), crypto.SHA1))
		if !strings.Contains(b64, "//") {
			continue
		}
		f.status.set(serial, ocsp.CertStatus{Status: xocsp.Good})
		resp, body := do(t, http.MethodGet, srv.URL+"/ocsp/"+b64, "", nil)
		if resp.StatusCode != http.StatusOK || f.parse(t, body).Status != xocsp.Good {
			t.Fatalf("GET with // in the base64: %s", resp.Status)
		}
		return
	}
	t.Fatal("no request with // in its base64")
}
