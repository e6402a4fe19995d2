package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/gorilla/csrf"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css
var staticFS embed.FS

func pageNames() []string {
	return []string{"error", "cs_queue", "cs_app", "ra_queue", "ra_app", "audit"}
}

// parseTemplates builds every page once per language, with "t" bound to
// that language's catalog.
func (c *Console) parseTemplates() error {
	c.pages = map[string]map[string]*template.Template{}
	for _, l := range languages() {
		cat := c.cats[l]
		funcs := template.FuncMap{
			"t":      cat.T,
			"state":  func(s string) string { return cat.T("state." + s) },
			"when":   c.formatTime,
			"date":   func(t time.Time) string { return t.Format("2006-01-02") },
			"rupiah": enrollment.FormatRupiah,
		}
		base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
		if err != nil {
			return fmt.Errorf("console templates: %w", err)
		}
		c.pages[l] = map[string]*template.Template{}
		for _, name := range pageNames() {
			t, err := base.Clone()
			if err != nil {
				return fmt.Errorf("console templates: %w", err)
			}
			if c.pages[l][name], err = t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
				return fmt.Errorf("console template %s: %w", name, err)
			}
		}
	}
	return nil
}

func (c *Console) formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(c.cfg.Location).Format("2006-01-02 15:04:05 MST")
}

// view is what the layout sees; Data is the page's own.
type view struct {
	Lang      string
	Title     string // a catalog key
	CSRFToken string
	CSRFField template.HTML
	Officer   store.Officer
	Flash     string // a catalog key, or ""
	Data      any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) {
	l := lang(r)
	v := view{Lang: l, Title: title, Officer: officerOf(r), Data: data}
	if tok := csrf.Token(r); tok != "" {
		v.CSRFToken, v.CSRFField = tok, csrf.TemplateField(r)
	}
	if k := "flash." + r.URL.Query().Get("done"); c.cats[l].has(k) {
		v.Flash = k
	}
	var buf bytes.Buffer
	if err := c.pages[l][page].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.ErrorContext(r.Context(), "console template", "page", page, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage shows message (a catalog key) and detail (text that is safe to
// show: a segregation rule, a state name).
type errorPage struct{ Message, Detail string }

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, status int, key, detail string) {
	c.render(w, r, status, "error", "error.title", errorPage{Message: key, Detail: detail})
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.errorPage(w, r, http.StatusNotFound, "error.not_found", "")
}

// serverError logs err (errors of the layers below carry no personal
// data) and shows a generic page.
func (c *Console) serverError(w http.ResponseWriter, r *http.Request, err error) {
	c.log.ErrorContext(r.Context(), "console request failed", "route", routeOf(r), "err", err)
	c.errorPage(w, r, http.StatusInternalServerError, "error.generic", "")
}

// csrfFailed is gorilla/csrf's error handler.
func (c *Console) csrfFailed(w http.ResponseWriter, r *http.Request) {
	c.metrics.authFailures.WithLabelValues("csrf").Inc()
	c.log.WarnContext(r.Context(), "console request without a valid CSRF token", "route", routeOf(r),
		"officer", officerOf(r).Name, "reason", fmt.Sprint(csrf.FailureReason(r)))
	c.errorPage(w, r, http.StatusForbidden, "error.csrf", "")
}

// fail answers a Service error: segregation and forbidden 403, wrong state
// 409, unknown application 404, a missing reason 400, anything else 500.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var seg *enrollment.SegregationError
	var st *enrollment.StateError
	switch {
	case errors.As(err, &seg):
		c.log.WarnContext(r.Context(), "segregation of duties", "route", routeOf(r), "officer", officerOf(r).Name, "rule", seg.Rule)
		c.errorPage(w, r, http.StatusForbidden, "error.segregation", seg.Rule)
	case errors.Is(err, enrollment.ErrForbidden):
		c.errorPage(w, r, http.StatusForbidden, "error.forbidden", "")
	case errors.As(err, &st):
		c.errorPage(w, r, http.StatusConflict, "error.state", c.cats[lang(r)].T("state."+st.State))
	case errors.Is(err, store.ErrNotFound):
		c.notFound(w, r)
	case errors.Is(err, enrollment.ErrReasonRequired):
		c.errorPage(w, r, http.StatusBadRequest, "form.reason_required", "")
	default:
		c.serverError(w, r, err)
	}
}

// done redirects after a successful POST to the queue with a flash key.
func done(w http.ResponseWriter, r *http.Request, queue, key string) {
	http.Redirect(w, r, queue+"?done="+key, http.StatusSeeOther)
}
