package notify

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MailboxPath is where the development mailbox lives. MailboxHandler
// serves absolute paths under it (no http.StripPrefix): mount it with
// mux.Handle("/dev/", notify.MailboxHandler(db)), or register MailboxPath,
// MailboxPath+"/" and MailboxPath+".json" separately.
const MailboxPath = "/dev/mailbox"

//go:embed mailbox
var mailboxFS embed.FS

// MailboxHandler is the demo's read-only development mailbox: every outbox
// message newest first at MailboxPath, one message at MailboxPath/{id},
// and the list with contents as JSON at MailboxPath.json (optional ?to=
// filter). It shows personal data and OTP codes: never mount it in
// production.
func MailboxHandler(db *bolt.DB) http.Handler {
	mb := &mailbox{db: db, tmpl: template.Must(template.New("").Funcs(template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(wib).Format("2006-01-02 15:04:05 MST")
		},
	}).ParseFS(mailboxFS, "mailbox/*.html"))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+MailboxPath, mb.list)
	mux.HandleFunc("GET "+MailboxPath+"/{$}", mb.list)
	mux.HandleFunc("GET "+MailboxPath+".json", mb.json)
	mux.HandleFunc("GET "+MailboxPath+"/{id}", mb.detail)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

type mailbox struct {
	db   *bolt.DB
	tmpl *template.Template
}

func (mb *mailbox) records(to string) ([]Record, error) {
	var out []Record
	err := mb.db.View(func(tx *bolt.Tx) error {
		return Each(tx, true, func(r Record) error {
			if to == "" || strings.EqualFold(r.To, to) {
				out = append(out, r)
			}
			return nil
		})
	})
	return out, err
}

func (mb *mailbox) list(w http.ResponseWriter, r *http.Request) {
	recs, err := mb.records("")
	if err != nil {
		http.Error(w, "cannot read the outbox", http.StatusInternalServerError)
		return
	}
	mb.render(w, "list.html", map[string]any{"Records": recs, "Base": MailboxPath})
}

func (mb *mailbox) detail(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	var rec Record
	err = mb.db.View(func(tx *bolt.Tx) (err error) { rec, err = Get(tx, id); return err })
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		http.Error(w, "cannot read the outbox", http.StatusInternalServerError)
		return
	}
	mb.render(w, "detail.html", map[string]any{"R": rec, "Text": linkify(rec.Text), "Base": MailboxPath})
}

func (mb *mailbox) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := mb.tmpl.ExecuteTemplate(w, name, data); err != nil {
		http.Error(w, "cannot render the mailbox", http.StatusInternalServerError)
	}
}

// mailboxJSON is one message of the JSON view: everything but attachment
// contents.
type mailboxJSON struct {
	Record
	Attachments []attachmentJSON `json:"attachments,omitempty"`
}

type attachmentJSON struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
}

func (mb *mailbox) json(w http.ResponseWriter, r *http.Request) {
	recs, err := mb.records(r.URL.Query().Get("to"))
	if err != nil {
		http.Error(w, "cannot read the outbox", http.StatusInternalServerError)
		return
	}
	out := make([]mailboxJSON, 0, len(recs))
	for _, rec := range recs {
		m := mailboxJSON{Record: rec}
		for _, a := range rec.Attachments {
			m.Attachments = append(m.Attachments, attachmentJSON{a.Name, a.ContentType, len(a.Data)})
		}
		m.Record.Attachments = nil
		out = append(out, m)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// segment is a piece of a text part: plain text, or a link when URL is set.
type segment struct {
	Text string
	URL  string
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+`)

// linkify splits text into plain and link segments; only http and https
// URLs become links (html/template still escapes them as attributes).
func linkify(text string) []segment {
	var out []segment
	last := 0
	for _, m := range linkRE.FindAllStringIndex(text, -1) {
		url := strings.TrimRight(text[m[0]:m[1]], ".,;:!?)]")
		end := m[0] + len(url)
		out = append(out, segment{Text: text[last:m[0]]}, segment{Text: url, URL: url})
		last = end
	}
	return append(out, segment{Text: text[last:]})
}
