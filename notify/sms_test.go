package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// gateway is a fake SMS provider API.
type gateway struct {
	mu     sync.Mutex
	status int
	reqs   []gatewayReq
}

type gatewayReq struct {
	Method, ContentType, APIKey string
	Body                        []byte
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reqs = append(g.reqs, gatewayReq{r.Method, r.Header.Get("Content-Type"), r.Header.Get("X-API-Key"), body})
	w.WriteHeader(g.status)
	io.WriteString(w, strings.Repeat("busy ", 100)) // a long answer
}

func (g *gateway) setStatus(s int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status = s
}

func (g *gateway) requests() []gatewayReq {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]gatewayReq(nil), g.reqs...)
}

func TestSMSGatewayThroughDispatcher(t *testing.T) {
	gw := &gateway{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	sms, err := NewSMSGateway(SMSConfig{
		URL:             srv.URL + "/v1/messages",
		BodyTemplate:    `{"to": {{json .To}}, "message": {{json .Text}}, "sender": "PSrE"}`,
		HeaderName:      "X-API-Key",
		HeaderValueFile: secretFile(t, "api-key-123\n"),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, "")
	clock := newClock()
	d := newDispatcher(t, DispatcherConfig{DB: db, SMS: sms, Now: clock.Now})
	text := "Kode \"493021\"\nuntuk </script> & ü ✓ \\ \u2028"
	id := enqueue(t, db, Message{Channel: ChannelSMS, To: "+6281234567890", Text: text, Kind: KindOTPSMS})[0]

	runOnce(t, d, 0) // 503: retry
	r := getRecord(t, db, id)
	if r.Status != StatusPending || r.Attempts != 1 || !strings.Contains(r.LastError, "HTTP 503") || len(r.LastError) > 260 {
		t.Fatalf("after 503: %+v", r)
	}
	gw.setStatus(http.StatusAccepted)
	clock.Advance(time.Minute)
	runOnce(t, d, 1)
	if r := getRecord(t, db, id); r.Status != StatusSent {
		t.Fatalf("after 202: %+v", r)
	}
	reqs := gw.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, q := range reqs {
		if q.Method != http.MethodPost || q.ContentType != "application/json" || q.APIKey != "api-key-123" {
			t.Errorf("request %+v", q)
		}
		var body struct{ To, Message, Sender string }
		if err := json.Unmarshal(q.Body, &body); err != nil {
			t.Fatalf("body %s: %v", q.Body, err)
		}
		if body.To != "+6281234567890" || body.Message != text || body.Sender != "PSrE" {
			t.Errorf("body %+v", body)
		}
	}
}

func TestSMSGatewayErrors(t *testing.T) {
	gw := &gateway{status: http.StatusBadRequest}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	g, err := NewSMSGateway(SMSConfig{URL: srv.URL + "/?apikey=SECRET", Method: http.MethodPut, ContentType: "application/x-www-form-urlencoded",
		BodyTemplate: `to={{urlquery .To}}&text={{urlquery .Text}}`})
	if err != nil {
		t.Fatal(err)
	}
	r := Record{ID: 1, Message: Message{Channel: ChannelSMS, To: "+6281234567890", Text: "a b&c"}}
	err = g.Send(context.Background(), r)
	var gwErr *GatewayStatusError
	if !errors.As(err, &gwErr) || gwErr.StatusCode != 400 || len(gwErr.Body) > 200 || errors.Is(err, ErrPermanent) {
		t.Fatalf("err = %v", err)
	}
	if q := gw.requests()[0]; q.Method != http.MethodPut || string(q.Body) != "to=%2B6281234567890&text=a+b%26c" {
		t.Errorf("request %+v body %s", q, q.Body)
	}
	srv.Close()
	if err := g.Send(context.Background(), r); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("gateway down: err = %v", err)
	}

	for name, cfg := range map[string]SMSConfig{
		"relative URL":   {URL: "/send", BodyTemplate: "x"},
		"bad template":   {URL: "https://sms.test/", BodyTemplate: "{{"},
		"missing secret": {URL: "https://sms.test/", BodyTemplate: "x", HeaderName: "X-API-Key", HeaderValueFile: "/nonexistent"},
	} {
		if _, err := NewSMSGateway(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
