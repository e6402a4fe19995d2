package portal

import (
	"testing"
	"time"
)

// TestDocStoreBounds: one document per session, a byte budget that
// evicts the least recently used other sessions, an entry alone over
// budget refused, entries of dead or idle sessions swept, and an entry
// readable only by the applicant who made it.
func TestDocStoreBounds(t *testing.T) {
	now := time.Unix(1e9, 0)
	sessions := newSessionStore(func() time.Time { return now })
	d := newDocStore(func() time.Time { return now }, sessions)
	d.maxBytes = 100
	mk := func() *session {
		s, err := sessions.create()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	put := func(s *session, id string, n int) bool {
		return d.update(s, id, func(e *docEntry) { e.doc = &signDoc{pdf: make([]byte, n)} })
	}
	a, b, c := mk(), mk(), mk()
	if !put(a, "A", 40) || !put(a, "A", 50) || d.total != 50 {
		t.Fatalf("replacing a's document: total %d", d.total)
	}
	now = now.Add(time.Second)
	put(b, "B", 40)
	now = now.Add(time.Second)
	if !put(c, "C", 40) || d.m[a] != nil || d.total != 80 {
		t.Errorf("over budget: a kept %v, total %d", d.m[a] != nil, d.total)
	}
	if put(c, "C", 101) || d.total != 80 {
		t.Errorf("a document over the whole budget was kept: total %d", d.total)
	}
	if _, ok := d.document(b, "C"); ok {
		t.Error("another applicant read b's document")
	}
	d.update(c, "C", func(e *docEntry) { e.signed = &signedDoc{pdf: make([]byte, 10)} })
	if d.total != 90 {
		t.Errorf("signed result not counted: total %d", d.total)
	}
	sessions.remove(b)
	now = now.Add(sessionIdle + time.Second)
	put(a, "A", 1)
	if len(d.m) != 1 || d.m[a] == nil || d.total != 1 {
		t.Errorf("dead or idle entries kept: %d entries, total %d", len(d.m), d.total)
	}
}
