package console_test

import (
	"encoding/binary"
	"encoding/json"
	"html"
	"regexp"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/store"
)

var seqCell = regexp.MustCompile(`<td class="seq">(\d+)</td><td>[^<]*</td><td>[^<]*</td><td class="action">([^<]*)</td>`)

// rows returns the sequence numbers and actions of an audit page, in page
// order.
func rows(t *testing.T, body string) (seqs []int, actions []string) {
	t.Helper()
	for _, m := range seqCell.FindAllStringSubmatch(body, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		seqs, actions = append(seqs, n), append(actions, m[2])
	}
	return seqs, actions
}

var olderLink = regexp.MustCompile(`<a id="older" href="([^"]+)">`)

// TestAuditor: the log newest first, filtered and paged, verified, then
// verified again after one record was changed in the file.
func TestAuditor(t *testing.T) {
	e := newEnv(t, 1)
	cs := e.officer("Citra CS", store.RoleCS, "")
	auditor := e.officer("Ani Auditor", store.RoleAuditor, "")
	var ids []string
	for range 3 {
		id := e.applicant("", false)
		e.must(e.svc.RequestVerification(e.ctx, id))
		expect(t, "invoice", cs.post("/cs/applications/"+id+"/invoice", nil), 303)
		ids = append(ids, id)
	}
	// Records: request_verification and issue_invoice, alternating: 1..6.
	page := auditor.get("/audit/")
	expect(t, "audit page", page, 200, "officer:cs:Citra CS", "application/"+ids[0])
	if seqs, _ := rows(t, page.body); len(seqs) != 6 || seqs[0] != 6 || seqs[5] != 1 {
		t.Fatalf("records shown: %v, want 6 down to 1", seqs)
	}

	page = auditor.get("/audit/?action=application.issue_invoice&limit=2")
	expect(t, "filtered", page, 200)
	seqs, actions := rows(t, page.body)
	if len(seqs) != 2 || seqs[0] != 6 || seqs[1] != 4 || actions[0] != "application.issue_invoice" || actions[1] != actions[0] {
		t.Fatalf("filtered page: %v %v", seqs, actions)
	}
	m := olderLink.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("no link to older records")
	}
	older := auditor.get(html.UnescapeString(m[1]))
	expect(t, "older page", older, 200)
	if seqs, actions := rows(t, older.body); len(seqs) != 1 || seqs[0] != 2 || actions[0] != "application.issue_invoice" {
		t.Fatalf("older page: %v %v", seqs, actions)
	}
	expect(t, "by object", auditor.get("/audit/?object=application/"+ids[1]), 200, "application/"+ids[1])
	if seqs, _ := rows(t, auditor.get("/audit/?object=application/"+ids[1]).body); len(seqs) != 2 || seqs[0] != 4 || seqs[1] != 3 {
		t.Fatalf("records of one application: %v", seqs)
	}
	if seqs, _ := rows(t, auditor.get("/audit/?from=2999-01-01T00:00").body); len(seqs) != 0 {
		t.Fatalf("records from the future: %v", seqs)
	}
	expect(t, "bad time", auditor.get("/audit/?from=yesterday"), 400, "Saringan tidak sah")

	r := auditor.post("/audit/verify", nil)
	expect(t, "verify", r, 200, "Log audit utuh", `<dd id="verify-records">6</dd>`)

	// Change one byte of meaning in record 3 (its action), keeping its hash.
	err := e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		key := binary.BigEndian.AppendUint64(nil, 3)
		var rec map[string]any
		if err := json.Unmarshal(b.Get(key), &rec); err != nil {
			return err
		}
		rec["action"] = "application.reject_final"
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return b.Put(key, raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	r = auditor.post("/audit/verify", nil)
	expect(t, "verify tampered", r, 200, "LOG AUDIT RUSAK", `<span id="broken-seq">3</span>`)
	if strings.Contains(r.body, "Log audit utuh") {
		t.Fatal("the tampered log verified")
	}
}
