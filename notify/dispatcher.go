package notify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// Sender delivers one outbox record. It must not log the record's content,
// recipient or codes. Wrap failures that retrying cannot fix with Permanent.
type Sender interface {
	Send(ctx context.Context, m Record) error
}

// BackoffConfig is the retry schedule: the n-th failure waits
// Min·2^(n-1), at most Max; after MaxAttempts failures a message is failed.
type BackoffConfig struct {
	Min         time.Duration // default 30s
	Max         time.Duration // default 1h
	MaxAttempts int           // default 12
}

func (b BackoffConfig) delay(attempts int) time.Duration {
	d := b.Min
	for i := 1; i < attempts && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// DispatcherConfig configures a Dispatcher. DB, Email and SMS are required.
type DispatcherConfig struct {
	DB           *bolt.DB
	Email, SMS   Sender
	Now          func() time.Time // default time.Now
	Backoff      BackoffConfig
	SendTimeout  time.Duration // per attempt; default 2 minutes
	PollInterval time.Duration // Run re-reads the outbox at least this often; default 1 minute
	Logger       *slog.Logger  // default: discard
	Registerer   prometheus.Registerer
}

// Dispatcher delivers the outbox. One per database; RunOnce calls are
// serialised.
type Dispatcher struct {
	cfg  DispatcherConfig
	m    *metrics
	mu   sync.Mutex // one delivery pass at a time
	wake chan struct{}
}

// NewDispatcher checks cfg, creates the outbox buckets if needed and
// registers the metrics.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.DB == nil || cfg.Email == nil || cfg.SMS == nil {
		return nil, errors.New("notify: dispatcher needs DB, Email and SMS")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Backoff.Min <= 0 {
		cfg.Backoff.Min = 30 * time.Second
	}
	if cfg.Backoff.Max < cfg.Backoff.Min {
		cfg.Backoff.Max = max(time.Hour, cfg.Backoff.Min)
	}
	if cfg.Backoff.MaxAttempts <= 0 {
		cfg.Backoff.MaxAttempts = 12
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 2 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.DB.Update(Init); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer, cfg.DB)
	if err != nil {
		return nil, err
	}
	return &Dispatcher{cfg: cfg, m: m, wake: make(chan struct{}, 1)}, nil
}

// Wake asks Run for a delivery pass now (after a commit that enqueued). It
// never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done: a pass, then a wait for the earliest
// retry, a Wake or the poll interval.
func (d *Dispatcher) Run(ctx context.Context) {
	for {
		wait := d.cfg.PollInterval
		if _, err := d.RunOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			d.cfg.Logger.Error("notify: delivery pass failed", "error", err)
			wait = d.cfg.Backoff.Min
		} else if next, ok, err := d.nextDue(); err != nil {
			d.cfg.Logger.Error("notify: read outbox", "error", err)
		} else if ok {
			wait = min(wait, max(0, next.Sub(d.cfg.Now())))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-d.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// nextDue is the earliest NextAttempt of a pending message.
func (d *Dispatcher) nextDue() (time.Time, bool, error) {
	var next time.Time
	found := false
	err := d.cfg.DB.View(func(tx *bolt.Tx) error {
		return eachPending(tx, func(r Record) error {
			if !found || r.NextAttempt.Before(next) {
				next, found = r.NextAttempt, true
			}
			return nil
		})
	})
	return next, found, err
}
