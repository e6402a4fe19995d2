package console

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
)

//go:embed messages/*.json
var messageFS embed.FS

// defaultLang is the console's first language; languages lists them all.
const defaultLang = "id"

func languages() []string { return []string{"id", "en"} }

const langCookie = "lang"

// catalog maps a message key to its text in one language.
type catalog map[string]string

// loadCatalogs reads messages/<lang>.json for every language and checks
// that all of them have the same keys.
func loadCatalogs() (map[string]catalog, error) {
	cats := map[string]catalog{}
	for _, l := range languages() {
		raw, err := messageFS.ReadFile("messages/" + l + ".json")
		if err != nil {
			return nil, fmt.Errorf("console catalogs: %w", err)
		}
		var c catalog
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("console catalog messages/%s.json: %w", l, err)
		}
		cats[l] = c
	}
	for _, l := range languages()[1:] {
		if d := diffKeys(cats[defaultLang], cats[l]); len(d) > 0 {
			return nil, fmt.Errorf("console catalogs %s and %s differ in %v", defaultLang, l, d)
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

// T returns the text of key; a missing key shows as itself, so it is seen.
func (c catalog) T(key string) string {
	if s, ok := c[key]; ok {
		return s
	}
	return key
}

// has reports whether key is in the catalog (flash keys from a query
// string are shown only if they are).
func (c catalog) has(key string) bool { _, ok := c[key]; return ok }

type langKey struct{}

// lang returns the language of the request (set by withLang).
func lang(r *http.Request) string {
	if l, ok := r.Context().Value(langKey{}).(string); ok {
		return l
	}
	return defaultLang
}

// withLang picks the language from the lang cookie. ?lang=xx sets the
// cookie; a GET is then redirected to the same path without the parameter.
func (c *Console) withLang(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := defaultLang
		if ck, err := r.Cookie(langCookie); err == nil && slices.Contains(languages(), ck.Value) {
			l = ck.Value
		}
		if q := r.URL.Query().Get("lang"); slices.Contains(languages(), q) {
			l = q
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
			if r.Method == http.MethodGet {
				rest := r.URL.Query()
				rest.Del("lang")
				u := url.URL{Path: r.URL.Path, RawQuery: rest.Encode()}
				if u.Path == "" || u.Path[0] != '/' || len(u.Path) > 1 && (u.Path[1] == '/' || u.Path[1] == '\\') {
					u.Path = "/"
				}
				http.Redirect(w, r, u.String(), http.StatusSeeOther)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), langKey{}, l)))
	})
}
