package console_test

import (
	"crypto/tls"
	"crypto/x509"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// client is a browser of one identity: an officer's certificate, another
// certificate, or none. It keeps cookies and does not follow redirects.
type client struct {
	e       *env
	http    *http.Client
	officer store.Officer // zero unless made by env.officer
	cert    *x509.Certificate
	token   string
}

func (e *env) client(cert *tls.Certificate) *client {
	pool := x509.NewCertPool()
	pool.AddCert(e.admin.cert)
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &client{e: e, http: &http.Client{Transport: tr, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) actor() enrollment.Actor { return enrollment.Officer(c.officer) }

type response struct {
	status int
	body   string
	header http.Header
	err    error
}

func (c *client) get(path string) response { return c.request(http.MethodGet, path, nil, false) }

// post sends a form with the CSRF token of this client's session.
func (c *client) post(path string, form url.Values) response {
	return c.request(http.MethodPost, path, form, true)
}

var metaToken = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

func (c *client) request(method, path string, form url.Values, withToken bool) response {
	c.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if withToken {
		if c.token == "" {
			home, ok := map[string]string{store.RoleCS: "/cs/", store.RoleRA: "/ra/", store.RoleAuditor: "/audit/"}[c.officer.Role]
			if !ok {
				home = "/"
			}
			if m := metaToken.FindStringSubmatch(c.get(home).body); m != nil {
				c.token = html.UnescapeString(m[1])
			}
		}
		form = cloneValues(form)
		form.Set("csrf_token", c.token)
	}
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.e.srv.URL)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: string(raw), header: resp.Header}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// expect fails unless r has status want and its body every one of texts.
func expect(t *testing.T, what string, r response, want int, texts ...string) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	if r.status != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.status, want, r.body)
	}
	for _, s := range texts {
		if !strings.Contains(r.body, s) {
			t.Fatalf("%s: the page lacks %q\n%s", what, s, r.body)
		}
	}
}

// counter reads a counter of the console's registry by its labels.
func (e *env) counter(name string, labels map[string]string) float64 {
	e.t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			n := 0
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
					n++
				}
			}
			if n == len(labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
