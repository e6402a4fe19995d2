package portal

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/gorilla/csrf"
)

//go:embed templates/*.html
var templateFS embed.FS

var pageNames = []string{"landing", "privacy", "identitas", "akun", "foto", "selesai", "login", "account", "error",
	"invoice", "corrections", "aktivasi", "aktivasi_email", "aktivasi_telepon", "profile", "tandatangan"}

// parseTemplates builds every page once per language, with "t" bound to
// that language's catalog.
func (p *Portal) parseTemplates() error {
	p.pages = map[string]map[string]*template.Template{}
	for _, l := range languages {
		funcs := template.FuncMap{"t": p.cats[l].T, "asset": p.assetURL}
		base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
		if err != nil {
			return err
		}
		p.pages[l] = map[string]*template.Template{}
		for _, name := range pageNames {
			t, err := base.Clone()
			if err != nil {
				return err
			}
			if p.pages[l][name], err = t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
				return err
			}
		}
	}
	return nil
}

// view is what the layout sees; Data is the page's own.
type view struct {
	Lang      string
	Title     string // a catalog key
	CSRFToken string
	CSRFField template.HTML
	Scripts   []string
	Data      any
}

func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any, scripts ...string) {
	l := lang(r)
	v := view{Lang: l, Title: title, CSRFToken: csrf.Token(r), CSRFField: csrf.TemplateField(r), Scripts: scripts, Data: data}
	var buf bytes.Buffer
	if err := p.pages[l][page].ExecuteTemplate(&buf, "layout", v); err != nil {
		p.log.ErrorContext(r.Context(), "portal template", "page", page, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage is the error page: Message a catalog key; Account links to
// the account page instead of the landing page.
type errorPage struct {
	Message string
	Account bool
}

func (p *Portal) errorPage(w http.ResponseWriter, r *http.Request, status int, key string) {
	p.render(w, r, status, "error", "error.title", errorPage{Message: key})
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request) {
	p.errorPage(w, r, http.StatusNotFound, "error.not_found")
}

// serverError logs err (errors of the layers below carry no personal data)
// and shows a generic page.
func (p *Portal) serverError(w http.ResponseWriter, r *http.Request, err error) {
	p.log.ErrorContext(r.Context(), "portal request failed", "route", r.Pattern, "err", err)
	p.errorPage(w, r, http.StatusInternalServerError, "error.generic")
}

// forbidden is gorilla/csrf's error handler.
func (p *Portal) forbidden(w http.ResponseWriter, r *http.Request) {
	p.log.InfoContext(r.Context(), "portal request refused", "reason", fmt.Sprint(csrf.FailureReason(r)))
	if isScriptPath(r.URL.Path) {
		p.jsonStatus(w, r, http.StatusForbidden, "error.forbidden")
		return
	}
	p.errorPage(w, r, http.StatusForbidden, "error.forbidden")
}

func (p *Portal) tooLarge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	if isScriptPath(r.URL.Path) {
		p.jsonStatus(w, r, http.StatusRequestEntityTooLarge, "upload.too_large")
		return
	}
	p.errorPage(w, r, http.StatusRequestEntityTooLarge, "error.too_large")
}

// isScriptPath: requests the page's scripts make, answered in JSON.
func isScriptPath(path string) bool {
	return strings.HasPrefix(path, "/register/selfie") || strings.HasPrefix(path, "/register/specimen")
}
