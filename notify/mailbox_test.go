package notify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMailbox(t *testing.T) {
	db := openDB(t, "")
	if err := db.Update(Init); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/dev/", MailboxHandler(db)) // as documented
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if body := get("/dev/mailbox").Body.String(); !strings.Contains(body, "No messages yet") {
		t.Fatalf("empty mailbox:\n%s", body)
	}

	enqueue(t, db,
		Message{
			Channel: ChannelEmail, To: "budi@example.test", Kind: KindApproved, Lang: "id",
			Subject:     `<script>alert(1)</script> Aktivasi`,
			Text:        "Aktivasi: https://portal.psre.test/aktivasi/tok?a=1&b=2.\nBukan tautan: javascript:alert(3) <b>x</b>",
			HTML:        `<p onclick="x">Halo</p><script>alert(2)</script>`,
			Attachments: []Attachment{{Name: "faktur.pdf", ContentType: "application/pdf", Data: []byte("%PDF")}},
		},
		Message{Channel: ChannelSMS, To: "+6281234567890", Text: "Kode OTP 493021", Kind: KindOTPSMS},
	)

	rec := get("/dev/mailbox")
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("list: %d %v", rec.Code, rec.Header())
	}
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt; Aktivasi") {
		t.Errorf("list does not escape the subject:\n%s", body)
	}
	if i, j := strings.Index(body, "Kode OTP 493021"), strings.Index(body, "Aktivasi"); i < 0 || j < 0 || i > j {
		t.Errorf("list is not newest first:\n%s", body)
	}

	rec = get("/dev/mailbox/1")
	body = rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("detail: %d", rec.Code)
	}
	for _, want := range []string{
		`<a href="https://portal.psre.test/aktivasi/tok?a=1&amp;b=2" rel="noopener noreferrer">`,
		`<iframe sandbox srcdoc="&lt;p onclick=&#34;x&#34;&gt;Halo&lt;/p&gt;&lt;script&gt;alert(2)&lt;/script&gt;"`,
		`&lt;b&gt;x&lt;/b&gt;`,
		`faktur.pdf (application/pdf, 4 bytes)`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("detail lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, `href="javascript`) {
		t.Errorf("detail is not escaped:\n%s", body)
	}
	for _, path := range []string{"/dev/mailbox/999", "/dev/mailbox/abc", "/dev/mailbox/1/x"} {
		if code := get(path).Code; code != http.StatusNotFound {
			t.Errorf("%s: %d", path, code)
		}
	}

	rec = get("/dev/mailbox.json?to=%2B6281234567890")
	var list []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("json: %v %s", err, rec.Body)
	}
	if len(list) != 1 || list[0]["text"] != "Kode OTP 493021" || list[0]["status"] != "pending" {
		t.Errorf("json filtered: %v", list)
	}
	rec = get("/dev/mailbox.json")
	list = nil
	_ = json.Unmarshal(rec.Body.Bytes(), &list)
	if len(list) != 2 || strings.Contains(rec.Body.String(), `"data"`) {
		t.Fatalf("json: %s", rec.Body)
	}
	atts, _ := list[1]["attachments"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["size"] != float64(4) {
		t.Errorf("json attachments: %v", list[1]["attachments"])
	}
}

func TestLinkify(t *testing.T) {
	segs := linkify("a http://x.test/p, b https://y.test/q) ftp://z.test")
	var links []string
	for _, s := range segs {
		if s.URL != "" {
			links = append(links, s.URL)
		}
	}
	if strings.Join(links, " ") != "http://x.test/p https://y.test/q" {
		t.Fatalf("links %v", links)
	}
}
