package signing

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// page describes one page of a generated test PDF.
type page struct {
	w, h   float64
	rotate int
	text   string
	extra  string // more page dictionary entries
}

func a4(text string) page { return page{w: 595, h: 842, text: text} }

// makePDF writes a minimal PDF 1.4 with a classic cross-reference table
// whose offsets are exact: catalog, page tree, one page and one content
// stream per page, and a Helvetica font.
func makePDF(pages ...page) []byte {
	n := len(pages)
	font := 3 + 2*n
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>"}
	kids := make([]string, n)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 3+2*i)
	}
	objs = append(objs, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	for i, p := range pages {
		content := fmt.Sprintf("BT /F1 24 Tf 72 %g Td (%s) Tj ET\n0 0 1 RG 36 36 m %g 36 l S", p.h-100, p.text, p.w-36)
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Rotate %d /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> %s>>",
				p.w, p.h, p.rotate, 4+2*i, font, p.extra),
			fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	objs = append(objs, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
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
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// tool fails the test with install instructions when name is missing:
// the test tools are dependencies that `make test` installs.
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (apt-get install -y %s)", name, pkg, pkg)
	}
	return p
}

// run runs a command and returns its combined output, failing on a
// non-zero exit unless allowFail.
func run(t testing.TB, allowFail bool, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && !allowFail {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// qpdf rewrites in with qpdf's arguments (a real tool's output for the
// encrypted and object-stream cases).
func qpdf(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	tool(t, "qpdf", "qpdf")
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	writeFile(t, src, in)
	run(t, false, "qpdf", append(append(args, src), dst)...)
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMakePDFAcceptedByQPDFAndPoppler(t *testing.T) {
	tool(t, "qpdf", "qpdf")
	tool(t, "pdfinfo", "poppler-utils")
	path := filepath.Join(t.TempDir(), "min.pdf")
	writeFile(t, path, makePDF(a4("one"), page{w: 300, h: 200, rotate: 90, text: "two"}))
	if out := run(t, false, "qpdf", "--check", path); !strings.Contains(out, "No syntax or stream encoding errors") {
		t.Errorf("qpdf --check:\n%s", out)
	}
	out := run(t, false, "pdfinfo", path)
	if !regexp.MustCompile(`(?m)^Pages:\s+2$`).MatchString(out) || strings.Contains(out, "Syntax Error") {
		t.Errorf("pdfinfo:\n%s", out)
	}
}
