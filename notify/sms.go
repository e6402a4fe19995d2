package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"
)

// SMSConfig configures an SMSGateway: an HTTP API of an SMS provider,
// described by a URL and a body template.
type SMSConfig struct {
	URL         string
	Method      string // default POST
	ContentType string // default application/json
	// BodyTemplate is a text/template over {To, Text}; the helper json
	// writes a value as a JSON string, e.g.
	//   {"to": {{json .To}}, "message": {{json .Text}}}
	// and the built-in urlquery serves form bodies.
	BodyTemplate    string
	HeaderName      string // e.g. Authorization or X-API-Key; empty: none
	HeaderValueFile string // file holding the header value (the API key)
	Timeout         time.Duration
	Client          *http.Client // default: a client with Timeout
}

// SMSGateway sends SMS records through an HTTP gateway.
type SMSGateway struct {
	cfg  SMSConfig
	body *template.Template
}

// GatewayStatusError is a non-2xx answer of the SMS gateway. Body holds at
// most the first 200 bytes of the answer, control characters removed.
type GatewayStatusError struct {
	StatusCode int
	Body       string
}

func (e *GatewayStatusError) Error() string {
	return fmt.Sprintf("sms gateway: HTTP %d: %s", e.StatusCode, e.Body)
}

// NewSMSGateway checks cfg, parses the body template and, when a header is
// configured, reads its value file once to fail early.
func NewSMSGateway(cfg SMSConfig) (*SMSGateway, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("notify: sms gateway URL must be an absolute http(s) URL")
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodPost
	}
	if cfg.ContentType == "" {
		cfg.ContentType = "application/json"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	t, err := template.New("sms").Option("missingkey=error").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}).Parse(cfg.BodyTemplate)
	if err != nil {
		return nil, fmt.Errorf("notify: sms body template: %w", err)
	}
	if cfg.HeaderName != "" {
		if _, err := readSecret(cfg.HeaderValueFile); err != nil {
			return nil, fmt.Errorf("notify: sms header value: %w", err)
		}
	}
	return &SMSGateway{cfg: cfg, body: t}, nil
}

// Send posts one SMS record to the gateway. Any non-2xx answer is an error
// worth a retry.
func (g *SMSGateway) Send(ctx context.Context, r Record) error {
	if r.Channel != ChannelSMS {
		return Permanent(fmt.Errorf("%w: not an SMS", ErrInvalidMessage))
	}
	var body bytes.Buffer
	if err := g.body.Execute(&body, struct{ To, Text string }{r.To, r.Text}); err != nil {
		return Permanent(fmt.Errorf("sms gateway: body template: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, g.cfg.Method, g.cfg.URL, &body)
	if err != nil {
		return fmt.Errorf("sms gateway: request: %w", err)
	}
	req.Header.Set("Content-Type", g.cfg.ContentType)
	if g.cfg.HeaderName != "" {
		v, err := readSecret(g.cfg.HeaderValueFile)
		if err != nil {
			return fmt.Errorf("sms gateway: header value: %w", err)
		}
		req.Header.Set(g.cfg.HeaderName, v)
	}
	resp, err := g.cfg.Client.Do(req)
	if err != nil {
		// url.Error carries the URL, which may hold an API key: drop it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("sms gateway: %w", err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &GatewayStatusError{StatusCode: resp.StatusCode, Body: printable(string(head))}
	}
	return nil
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\uFFFD' {
			return ' '
		}
		return r
	}, s)
}
