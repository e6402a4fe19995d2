package audit

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Filter selects records for the auditor's page. Empty fields match
// everything; From and To bound Time as From <= Time < To when set.
type Filter struct {
	Actor, Action, Object string
	From, To              time.Time
	AfterSeq              uint64 // paging: start after this record
	Limit                 int    // at most this many records; <= 0 means DefaultLimit, capped at MaxLimit
}

// Page sizes of List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// List returns the records matching f in ascending sequence order. It
// reads records, it does not verify them: that is Verify's job. Filters
// other than AfterSeq scan forward from AfterSeq, so a page costs at most
// the records between AfterSeq and the last match it returns.
func List(tx *bolt.Tx, f Filter) ([]Record, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	b := tx.Bucket(bucketRecords)
	if b == nil {
		return nil, nil
	}
	var out []Record
	c := b.Cursor()
	for k, v := c.Seek(seqKey(f.AfterSeq + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return out, fmt.Errorf("audit: list: record %d: %w", lastSeq(k), err)
		}
		if f.matches(&r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f Filter) matches(r *Record) bool {
	switch {
	case f.Actor != "" && r.Actor != f.Actor,
		f.Action != "" && r.Action != f.Action,
		f.Object != "" && r.Object != f.Object,
		!f.From.IsZero() && r.Time.Before(f.From),
		!f.To.IsZero() && !r.Time.Before(f.To):
		return false
	}
	return true
}
