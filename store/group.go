package store

import (
	"errors"
	"sync"

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
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, r := range group {
				results[i] = r.fn(tx)
			}
			return nil
		})
		for i, r := range group {
			if err != nil {
				r.result <- err
				continue
			}
			r.result <- results[i]
		}
	}
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
