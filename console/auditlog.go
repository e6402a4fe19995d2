package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/audit"
)

// Audit page sizes.
const (
	auditPageSize = 50
	auditMaxPage  = 200
)

// timeInput is the format of an HTML datetime-local field.
const timeInput = "2006-01-02T15:04"

// auditForm is the filter as typed, re-shown in the form and the links.
type auditForm struct {
	Actor, Action, Object, From, To string
	Limit                           int
}

func (f auditForm) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "object": f.Object, "from": f.From, "to": f.To} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit != auditPageSize {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

type auditView struct {
	Form         auditForm
	Zone         string
	Records      []audit.Record // newest first
	Older, Newer string         // links to the next pages, "" when none
	Error        string         // message key of a bad filter
	Verified     bool
	Report       audit.Report
	Broken       *audit.BrokenError
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	c.showAudit(w, r, auditView{})
}

// auditVerify verifies the whole log and shows the report or the first
// broken record above the newest records.
func (c *Console) auditVerify(w http.ResponseWriter, r *http.Request) {
	v := auditView{Verified: true}
	err := c.cfg.DB.View(func(tx *bolt.Tx) (err error) {
		v.Report, err = audit.Verify(tx, c.cfg.AuditKey, c.cfg.AuditEvery)
		return err
	})
	if b, ok := audit.IsBroken(err); ok {
		v.Broken = b
		c.log.WarnContext(r.Context(), "audit log verification failed", "officer", officerOf(r).Name, "seq", b.Seq, "reason", b.Reason)
	} else if err != nil {
		c.serverError(w, r, err)
		return
	} else {
		c.log.InfoContext(r.Context(), "audit log verified", "officer", officerOf(r).Name, "records", v.Report.Records)
	}
	r.URL.RawQuery = "" // the verify form carries no filter
	c.showAudit(w, r, v)
}

func (c *Console) showAudit(w http.ResponseWriter, r *http.Request, v auditView) {
	q := r.URL.Query()
	v.Zone = c.cfg.Location.String()
	v.Form = auditForm{Actor: q.Get("actor"), Action: q.Get("action"), Object: q.Get("object"),
		From: q.Get("from"), To: q.Get("to"), Limit: auditPageSize}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		v.Form.Limit = min(n, auditMaxPage)
	}
	f := audit.Filter{Actor: v.Form.Actor, Action: v.Form.Action, Object: v.Form.Object}
	from, errFrom := c.parseTime(v.Form.From)
	to, errTo := c.parseTime(v.Form.To)
	before, errBefore := parseSeq(q.Get("before"))
	after, errAfter := parseSeq(q.Get("after"))
	if errFrom != nil || errTo != nil || errBefore != nil || errAfter != nil {
		v.Error = "audit.filter_invalid"
		c.render(w, r, http.StatusBadRequest, "audit", "audit.title", v)
		return
	}
	f.From, f.To = from, to
	err := c.cfg.DB.View(func(tx *bolt.Tx) (err error) {
		if after > 0 {
			f.AfterSeq, f.Limit = after, v.Form.Limit
			v.Records, err = audit.List(tx, f)
			slices.Reverse(v.Records)
			return err
		}
		v.Records, err = newest(tx, f, before, v.Form.Limit)
		return err
	})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	if n := len(v.Records); n > 0 {
		full := n == v.Form.Limit
		if (after == 0 && full) || after > 0 {
			v.Older = v.Form.link("before", v.Records[n-1].Seq)
		}
		if (after == 0 && before > 0) || (after > 0 && full) {
			v.Newer = v.Form.link("after", v.Records[0].Seq)
		}
	}
	c.render(w, r, http.StatusOK, "audit", "audit.title", v)
}

func (f auditForm) link(cursor string, seq uint64) string {
	q := f.query()
	q.Set(cursor, strconv.FormatUint(seq, 10))
	return "/audit/?" + q.Encode()
}

// newest returns, newest first, the last limit records matching f with a
// sequence number below before (0: no bound). audit.List reads forward
// only, so this scans the matches up to before, keeping the last limit.
func newest(tx *bolt.Tx, f audit.Filter, before uint64, limit int) ([]audit.Record, error) {
	var keep []audit.Record
	f.Limit = audit.MaxLimit
	for {
		page, err := audit.List(tx, f)
		if err != nil {
			return nil, err
		}
		for _, rec := range page {
			if before > 0 && rec.Seq >= before {
				slices.Reverse(keep)
				return keep, nil
			}
			if keep = append(keep, rec); len(keep) > limit {
				keep = keep[1:]
			}
		}
		if len(page) < audit.MaxLimit {
			slices.Reverse(keep)
			return keep, nil
		}
		f.AfterSeq = page[len(page)-1].Seq
	}
}

func (c *Console) parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation(timeInput, s, c.cfg.Location)
}

func parseSeq(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}
