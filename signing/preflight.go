package signing

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"

	"github.com/digitorus/pdf"
)

// The PDF parser trusts the cross-reference data it reads: a subsection
// starting at object 900000000 makes it grow a table of that many entries
// (gigabytes; the process dies), an object stream that is itself in an
// object stream recurses until the stack overflows (also fatal), and a
// cyclic /Extends loops forever, and the parser recurses once per nested
// array or dictionary (five million levels overflow the stack; one million
// take six seconds). preflight and checkObjectStreams refuse
// such files before and after the parser reads the cross-references. What
// they accept, they read exactly as the parser does (plain numbers and the
// keywords only); anything else is refused as broken.
const (
	maxObjects  = 1 << 20 // highest object number accepted
	maxSections = 64      // cross-reference sections (incremental updates)
	maxXrefDict = 64 << 10
	// maxOpeners bounds the '[' and '<<' in the whole file, a crude but
	// sound bound on nesting: a 20 MB PDF with compressed streams has well
	// under a hundred thousand.
	maxOpeners = 400_000
)

// reInt matches /key followed by a plain number.
func reInt(key string) *regexp.Regexp {
	return regexp.MustCompile(`/` + key + `[ \t\r\n\f\x00]+(\d{1,10})\b`)
}

// reArray matches /key followed by an array of plain numbers.
func reArray(key string) *regexp.Regexp {
	return regexp.MustCompile(`/` + key + `[ \t\r\n\f\x00]*\[([\d \t\r\n\f\x00]*)\]`)
}

// preflight checks every cross-reference chain that a startxref near the
// end of b can start.
func preflight(b []byte) error {
	if n := bytes.Count(b, []byte("[")) + bytes.Count(b, []byte("<<")); n > maxOpeners {
		return fmt.Errorf("%w: %d arrays and dictionaries, at most %d", ErrBroken, n, maxOpeners)
	}
	tail := b[max(0, len(b)-eofWindow):]
	re := regexp.MustCompile(`startxref[ \t\r\n\f\x00]+(\d{1,10})\b`)
	for _, m := range re.FindAllSubmatch(tail, -1) {
		off, _ := strconv.Atoi(string(m[1]))
		if err := checkChain(b, off); err != nil {
			return fmt.Errorf("%w: %v", ErrBroken, err)
		}
	}
	return nil
}

func checkChain(b []byte, off int) error {
	seen := map[int]bool{}
	for n := 0; off >= 0; n++ {
		if n == maxSections || seen[off] || off >= len(b) {
			return fmt.Errorf("cross-reference chain at %d: loop, too long or out of the file", off)
		}
		seen[off] = true
		var err error
		if w := bytes.Fields(b[off:min(len(b), off+16)]); len(w) > 0 && string(w[0]) == "xref" {
			off, err = checkXrefTable(b, off+4)
		} else {
			off, err = checkXrefStream(b, off)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkXrefTable reads a classic table word by word as the parser does and
// bounds its subsections; it returns the trailer's /Prev or -1.
func checkXrefTable(b []byte, pos int) (int, error) {
	word := func() string {
		for pos < len(b) && isPDFSpace(b[pos]) {
			pos++
		}
		start := pos
		for pos < len(b) && !isPDFSpace(b[pos]) {
			pos++
		}
		return string(b[start:pos])
	}
	for {
		w := word()
		if w == "trailer" {
			break
		}
		start, err1 := strconv.Atoi(w)
		count, err2 := strconv.Atoi(word())
		if err1 != nil || err2 != nil || start < 0 || count < 0 || start+count > maxObjects {
			return 0, fmt.Errorf("cross-reference subsection %q at %d", w, pos)
		}
		for range count {
			_, err1 := strconv.Atoi(word())
			_, err2 := strconv.Atoi(word())
			if k := word(); err1 != nil || err2 != nil || (k != "n" && k != "f") {
				return 0, fmt.Errorf("cross-reference entry at %d", pos)
			}
		}
	}
	end := bytes.Index(b[pos:min(len(b), pos+maxXrefDict)], []byte("startxref"))
	if end < 0 {
		return 0, fmt.Errorf("no startxref after the trailer at %d", pos)
	}
	return prev(b[pos : pos+end])
}

// checkXrefStream bounds /Size, /Index, /W and the predictor /Columns of
// a cross-reference stream's dictionary; it returns /Prev or -1.
func checkXrefStream(b []byte, off int) (int, error) {
	end := bytes.Index(b[off:min(len(b), off+maxXrefDict)], []byte("stream"))
	if end < 0 {
		return 0, fmt.Errorf("no cross-reference table or stream at %d", off)
	}
	dict := b[off : off+end]
	sizes := reInt("Size").FindAllSubmatch(dict, -1)
	if len(sizes) != 1 || atoi(sizes[0][1]) > maxObjects {
		return 0, fmt.Errorf("cross-reference stream /Size at %d", off)
	}
	for _, key := range []string{"Index", "W"} {
		if bytes.Count(dict, []byte("/"+key)) != len(reArray(key).FindAll(dict, -1)) {
			return 0, fmt.Errorf("cross-reference stream /%s at %d is not an array of numbers", key, off)
		}
	}
	for _, m := range reArray("Index").FindAllSubmatch(dict, -1) {
		f := bytes.Fields(m[1])
		for i := 0; i+1 < len(f); i += 2 {
			if atoi(f[i])+atoi(f[i+1]) > maxObjects {
				return 0, fmt.Errorf("cross-reference stream /Index at %d", off)
			}
		}
	}
	for _, m := range reArray("W").FindAllSubmatch(dict, -1) {
		for _, f := range bytes.Fields(m[1]) {
			if atoi(f) > 8 {
				return 0, fmt.Errorf("cross-reference stream /W at %d", off)
			}
		}
	}
	if bytes.Contains(dict, []byte("/Columns")) {
		cols := reInt("Columns").FindAllSubmatch(dict, -1)
		if len(cols) != 1 || atoi(cols[0][1]) > 64 {
			return 0, fmt.Errorf("cross-reference stream /Columns at %d", off)
		}
	}
	return prev(dict)
}

// prev returns the one /Prev of a trailer or cross-reference stream
// dictionary, or -1. A name written with # escapes could hide a /Prev
// from this reading but not from the parser, so none is accepted.
func prev(dict []byte) (int, error) {
	if bytes.IndexByte(dict, '#') >= 0 {
		return 0, fmt.Errorf("a # escape in a cross-reference dictionary")
	}
	n := bytes.Count(dict, []byte("/Prev"))
	m := reInt("Prev").FindAllSubmatch(dict, -1)
	switch {
	case n == 0:
		return -1, nil
	case n == 1 && len(m) == 1:
		return atoi(m[0][1]), nil
	}
	return 0, fmt.Errorf("cross-reference /Prev is not one plain number")
}

func atoi(b []byte) int {
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return maxObjects + 1
	}
	return n
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0
}

// checkObjectStreams runs after the parser has read the cross-references:
// objects may live in object streams, but those streams must not, and they
// must have no /Extends and a bounded /N.
func checkObjectStreams(r *pdf.Reader) error {
	inStream := map[uint32]bool{}
	streams := map[uint32]bool{}
	for _, x := range r.Xref() {
		p, s := x.Ptr(), x.Stream()
		if s.GetID() != 0 {
			inStream[p.GetID()] = true
			streams[s.GetID()] = true
		}
	}
	for id := range streams {
		if inStream[id] {
			return fmt.Errorf("%w: object stream %d is itself in an object stream", ErrBroken, id)
		}
	}
	for _, x := range r.Xref() {
		p := x.Ptr()
		if !streams[p.GetID()] || inStream[p.GetID()] {
			continue
		}
		v := r.Resolve(p, p)
		if v.Kind() != pdf.Stream || !v.Key("Extends").IsNull() || v.Key("N").Int64() > maxObjects {
			return fmt.Errorf("%w: object stream %d", ErrBroken, p.GetID())
		}
	}
	return nil
}
