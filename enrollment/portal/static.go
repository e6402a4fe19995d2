package portal

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"time"
)

//go:embed static
var staticFS embed.FS

type asset struct {
	data           []byte
	ctype, version string
}

var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

func loadAssets() (map[string]asset, error) {
	entries, err := staticFS.ReadDir("static")
	if err != nil {
		return nil, err
	}
	assets := map[string]asset{}
	for _, e := range entries {
		data, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		assets[e.Name()] = asset{data: data, ctype: assetTypes[path.Ext(e.Name())], version: hex.EncodeToString(sum[:6])}
	}
	return assets, nil
}

// assetURL names a static file with its content hash, so that it can be
// cached for good.
func (p *Portal) assetURL(name string) string {
	return "/static/" + name + "?v=" + p.assets[name].version
}

// static serves the embedded files by name only (no directory listing).
func (p *Portal) static(w http.ResponseWriter, r *http.Request) {
	a, ok := p.assets[r.PathValue("file")]
	if !ok || a.ctype == "" {
		p.notFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", `"`+a.version+`"`)
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}
