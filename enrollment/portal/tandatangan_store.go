package portal

import (
	"context"
	"sync"
	"time"

	"github.com/psre/appliance/signing"
)

// Documents being signed ("Tandatangan", seed step 21) are kept in memory,
// one per session, beside the session rather than in it: a session holds
// at most one uploaded PDF (signing.MaxBytes) and the last signed result
// until it is downloaded or replaced. Their bytes have a budget of their
// own (the wizard's images have theirs, see session.go); over it, the
// least recently used other sessions lose their document first. A
// document dies with its session (logout, eviction, idle time).
const (
	defaultMaxDocBytes = 256 << 20
	pdfSlots           = 2 // concurrent Inspect, RenderPage and Sign calls (qpdf, pdftoppm)
)

// signDoc is an uploaded PDF as Inspect described it. Its fields are
// never changed once stored: a new upload replaces the whole value.
type signDoc struct {
	name     string // the file name, cleaned (cleanDocName)
	pdf      []byte
	info     signing.Info
	codeSent bool // a signing code was sent for this document
}

// signedDoc is the result of the last signature, until downloaded.
type signedDoc struct {
	name            string // the download name, "<original>-signed.pdf"
	pdf             []byte
	timestampSerial string
	at              time.Time
}

type docEntry struct {
	applicantID string
	doc         *signDoc
	signed      *signedDoc
	lastUsed    time.Time
}

func (e *docEntry) bytes() int {
	n := 0
	if e.doc != nil {
		n += len(e.doc.pdf)
	}
	if e.signed != nil {
		n += len(e.signed.pdf)
	}
	return n
}

// docStore holds the documents of the sessions, keyed by session.
type docStore struct {
	now      func() time.Time
	idle     time.Duration
	maxBytes int
	alive    func(*session) bool // the session store still has it
	slots    chan struct{}

	mu    sync.Mutex
	m     map[*session]*docEntry
	total int
}

func newDocStore(now func() time.Time, sessions *sessionStore) *docStore {
	return &docStore{now: now, idle: sessionIdle, maxBytes: defaultMaxDocBytes, slots: make(chan struct{}, pdfSlots),
		m: map[*session]*docEntry{}, alive: func(s *session) bool {
			sessions.mu.Lock()
			defer sessions.mu.Unlock()
			return !s.dead
		}}
}

// acquire takes one of the PDF slots, or reports false when ctx ends.
func (d *docStore) acquire(ctx context.Context) bool {
	select {
	case d.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (d *docStore) release() { <-d.slots }

// entry returns the entry of sess if it belongs to applicantID; d.mu held.
func (d *docStore) entry(sess *session, applicantID string) *docEntry {
	e := d.m[sess]
	if e == nil || e.applicantID != applicantID {
		return nil
	}
	e.lastUsed = d.now()
	return e
}

// document returns the document of the caller's session.
func (d *docStore) document(sess *session, applicantID string) (*signDoc, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.entry(sess, applicantID); e != nil && e.doc != nil {
		return e.doc, true
	}
	return nil, false
}

// signed returns the signed result waiting in the caller's session.
func (d *docStore) signed(sess *session, applicantID string) (*signedDoc, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.entry(sess, applicantID); e != nil && e.signed != nil {
		return e.signed, true
	}
	return nil, false
}

// update changes the caller's entry (made if missing) with change, then
// accounts for its bytes, evicting least recently used other entries
// while over budget. It reports false, changing nothing, if the entry
// alone would be over budget.
func (d *docStore) update(sess *session, applicantID string, change func(e *docEntry)) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep(sess)
	old := d.m[sess]
	e := &docEntry{applicantID: applicantID}
	if old != nil && old.applicantID == applicantID {
		*e = *old
	}
	change(e)
	e.lastUsed = d.now()
	if e.bytes() > d.maxBytes {
		return false
	}
	if old != nil {
		d.total -= old.bytes()
	}
	d.m[sess] = e
	d.total += e.bytes()
	for d.total > d.maxBytes {
		var lru *session
		for s, o := range d.m {
			if s != sess && (lru == nil || o.lastUsed.Before(d.m[lru].lastUsed)) {
				lru = s
			}
		}
		d.drop(lru)
	}
	return true
}

// forget drops the caller's documents.
func (d *docStore) forget(sess *session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drop(sess)
}

// sweep drops the entries of dead or idle sessions other than keep.
func (d *docStore) sweep(keep *session) {
	now := d.now()
	for s, e := range d.m {
		if s != keep && (now.Sub(e.lastUsed) > d.idle || !d.alive(s)) {
			d.drop(s)
		}
	}
}

func (d *docStore) drop(sess *session) {
	if e := d.m[sess]; e != nil {
		d.total -= e.bytes()
		delete(d.m, sess)
	}
}
