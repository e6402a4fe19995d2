package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many writes share one commit.
const maxGroup = 512

// ErrClosed means the database was closed before a write could commit.
var ErrClosed = errors.New("database closed")

// groupCommitter applies small writes from many goroutines in shared
// transactions: one write waits for no timer (unlike bbolt's Batch, whose
// 10 ms delay bounds a lone writer to about 100 commits/s), and writes that
// arrive while a commit is on disk go together into the next one. Each
// caller returns only after its write is durable.
type groupCommitter struct {
	db   *bolt.DB
	reqs chan groupReq
	done chan struct{}

	// statistics, for GroupCommitStats
	commits, writes, busyNanos, applyNanos atomic.Int64

	mu     sync.RWMutex // held for reading while sending on reqs
	closed bool
}

type groupReq struct {
	fn     func(*bolt.Tx) error
	result chan error
}

func newGroupCommitter(db *bolt.DB) *groupCommitter {
	g := &groupCommitter{db: db, reqs: make(chan groupReq, maxGroup), done: make(chan struct{})}
	go g.loop()
	return g
}

// update runs fn in a shared write transaction and returns when that
// transaction has committed. fn must make no change when it returns an
// error: the other writes of the group still commit.
func (g *groupCommitter) update(fn func(*bolt.Tx) error) error {
	r := groupReq{fn: fn, result: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return ErrClosed
	}
	g.reqs <- r
	g.mu.RUnlock()
	return <-r.result
}

func (g *groupCommitter) loop() {
	defer close(g.done)
	for first := range g.reqs {
		group := []groupReq{first}
	drain:
		for len(group) < maxGroup {
			select {
			case r, ok := <-g.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		results := make([]error, len(group))
		start := time.Now()
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, r := range group {
				results[i] = r.fn(tx)
			}
			g.applyNanos.Add(int64(time.Since(start)))
			return nil
		})
		g.busyNanos.Add(int64(time.Since(start)))
		g.commits.Add(1)
		g.writes.Add(int64(len(group)))
		for i, r := range group {
			if err != nil {
				r.result <- err
				continue
			}
			r.result <- results[i]
		}
	}
}

// GroupCommitStats describes the shared commits since the database opened.
type GroupCommitStats struct {
	Commits int64         // transactions committed
	Writes  int64         // writes they carried (RecordIntent, CompleteIssuance)
	Busy    time.Duration // time spent running and committing them
	Apply   time.Duration // of Busy, running the writes (the rest is bbolt's commit: pages, fdatasync, meta, fdatasync)
}

// GroupCommitStats returns the committer's statistics.
func (db *DB) GroupCommitStats() GroupCommitStats {
	g := db.group
	return GroupCommitStats{Commits: g.commits.Load(), Writes: g.writes.Load(), Busy: time.Duration(g.busyNanos.Load()), Apply: time.Duration(g.applyNanos.Load())}
}

// close stops the committer after the queued writes are done.
func (g *groupCommitter) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.reqs)
	}
	g.mu.Unlock()
	<-g.done
}
