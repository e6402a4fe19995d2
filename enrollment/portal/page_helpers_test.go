package portal_test

import (
	"bytes"
	"github.com/psre/appliance/internal/testpdf"
	"html"
	"image/gif"
	"regexp"
	"strings"
	"testing"
)

var inlineHandler = regexp.MustCompile(` on[a-z]+=`)

// strict fails if a page has inline script or style, or lacks the CSP.
func strict(t *testing.T, pg page) {
	t.Helper()
	if strings.Contains(pg.body, "<script>") || strings.Contains(pg.body, " style=") || strings.Contains(pg.body, "<style") ||
		inlineHandler.MatchString(pg.body) || pg.header.Get("Content-Security-Policy") != wantCSP || pg.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: inline script or style, or headers %v", pg.path, pg.header)
	}
}

func minimalPDF(n int, extraTrailer string) []byte { return testpdf.Minimal(n, extraTrailer) }

const encryptTrailer = "/Encrypt << /Filter /Standard /V 1 /R 2 /O (x) /U (y) /P -4 >> "

func gifImage(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, pattern(300, 300), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// text returns the unescaped text of the element with id in body, tags
// removed, or "" if there is none.
func text(body, id string) string {
	m := regexp.MustCompile(`(?s)id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</(dd|p|span|ul|div|section|dl)>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], ""))
}

// items returns the texts of the <li> of the list with id in body.
func items(body, id string) []string {
	m := regexp.MustCompile(`(?s)id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</[ou]l>`).FindStringSubmatch(body)
	if m == nil {
		return nil
	}
	var out []string
	for _, li := range regexp.MustCompile(`(?s)<li>(.*?)</li>`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, html.UnescapeString(li[1]))
	}
	return out
}
