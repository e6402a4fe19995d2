package portal

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
)

//go:embed messages/*.json
var messageFS embed.FS

// Languages of the portal; the first is the default.
var languages = []string{"id", "en"}

const langCookie = "lang"

// catalog maps a message key to its text in one language.
type catalog map[string]string

// loadCatalogs reads messages/<lang>.json for every language and checks
// that all of them have the same keys.
func loadCatalogs() (map[string]catalog, error) {
	cats := map[string]catalog{}
	for _, lang := range languages {
		raw, err := messageFS.ReadFile("messages/" + lang + ".json")
		if err != nil {
			return nil, err
		}
		var c catalog
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("messages/%s.json: %w", lang, err)
		}
		cats[lang] = c
	}
	ref := cats[languages[0]]
	for _, lang := range languages[1:] {
		if missing := diffKeys(ref, cats[lang]); len(missing) > 0 {
			return nil, fmt.Errorf("catalogs %s and %s differ in %v", languages[0], lang, missing)
		}
	}
	return cats, nil
}

func diffKeys(a, b catalog) []string {
	var d []string
	for k := range a {
		if _, ok := b[k]; !ok {
			d = append(d, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, k)
		}
	}
	sort.Strings(d)
	return d
}

// T returns the text of key; a missing key shows as itself, so that it is
// seen (TestCatalogs fails on any key the code uses that is missing).
func (c catalog) T(key string) string {
	if s, ok := c[key]; ok {
		return s
	}
	return key
}

// errorKey returns key if the catalogs know it, else the generic
// "field.invalid": a key from a lower layer never shows raw.
func (p *Portal) errorKey(key string) string {
	if _, ok := p.cats[languages[0]][key]; ok {
		return key
	}
	return "field.invalid"
}

type langKey struct{}

// lang returns the language of the request (set by withLang).
func lang(r *http.Request) string {
	if l, ok := r.Context().Value(langKey{}).(string); ok {
		return l
	}
	return languages[0]
}

// withLang picks the language from the lang cookie. ?lang=xx sets the
// cookie; a GET is then redirected to the same URL without the parameter.
func (p *Portal) withLang(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := languages[0]
		if c, err := r.Cookie(langCookie); err == nil && slices.Contains(languages, c.Value) {
			l = c.Value
		}
		if q := r.URL.Query().Get("lang"); slices.Contains(languages, q) {
			l = q
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: p.cfg.Secure, SameSite: http.SameSiteLaxMode})
			if r.Method == http.MethodGet {
				u := url.URL{Path: localPath(r.URL.Path)}
				rest := r.URL.Query()
				rest.Del("lang")
				u.RawQuery = rest.Encode()
				http.Redirect(w, r, u.String(), http.StatusSeeOther)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), langKey{}, l)))
	})
}

// localPath makes p safe to redirect to: a clean absolute path on this
// host ("//evil.example" or a backslash would leave it).
func localPath(p string) string {
	p = path.Clean("/" + p)
	if strings.ContainsAny(p, "\\") || strings.HasPrefix(p, "//") {
		return "/"
	}
	return p
}
