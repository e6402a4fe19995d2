package portal_test

import (
	"bytes"
	"fmt"
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

// minimalPDF builds a well-formed PDF of n empty pages (as in
// enrollment/upload/proof_test.go); extraTrailer goes into the trailer.
func minimalPDF(n int, extraTrailer string) []byte {
	var objs []string
	kids := make([]string, n)
	for i := range n {
		kids[i] = fmt.Sprintf("%d 0 R", 3+i)
	}
	objs = append(objs, "<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	for range n {
		objs = append(objs, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, extraTrailer, xref)
	return b.Bytes()
}

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
