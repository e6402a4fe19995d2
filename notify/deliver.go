package notify

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RunOnce sends every due pending message, in id order, each followed by
// its own transaction marking it sent or scheduling its retry. It returns
// how many were sent; an error means the pass stopped (context done or the
// database failed), not that a message failed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.cfg.Now()
	var due []uint64
	waiting := map[string][]uint64{} // channel -> messages in backoff
	err := d.cfg.DB.View(func(tx *bolt.Tx) error {
		return eachPending(tx, func(r Record) error {
			if !r.NextAttempt.After(now) {
				due = append(due, r.ID)
			} else {
				waiting[r.Channel] = append(waiting[r.Channel], r.ID)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	sent := 0
	working := map[string]bool{} // channels that delivered in this run
	send := func(ids []uint64) error {
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return err
			}
			ok, channel, err := d.deliverChannel(ctx, id)
			if err != nil {
				return err
			}
			if ok {
				sent++
				working[channel] = true
			}
		}
		return nil
	}
	if err := send(due); err != nil {
		return sent, err
	}
	// A channel that works again delivers its messages in backoff now,
	// rather than after newer ones by up to an hour.
	for channel, ids := range waiting {
		if working[channel] {
			if err := send(ids); err != nil {
				return sent, err
			}
		}
	}
	return sent, nil
}

// deliverChannel delivers message id and says on which channel.
func (d *Dispatcher) deliverChannel(ctx context.Context, id uint64) (bool, string, error) {
	var channel string
	err := d.cfg.DB.View(func(tx *bolt.Tx) error {
		r, err := Get(tx, id)
		channel = r.Channel
		return err
	})
	if err != nil {
		return false, "", err
	}
	ok, err := d.deliver(ctx, id)
	return ok, channel, err
}

// eachPending walks the pending index in id order.
func eachPending(tx *bolt.Tx, fn func(Record) error) error {
	b := tx.Bucket([]byte(BucketPending))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, _ []byte) error {
		r, err := Get(tx, idOf(k))
		if err != nil {
			return err
		}
		return fn(r)
	})
}

func (d *Dispatcher) sender(channel string) Sender {
	switch channel {
	case ChannelEmail:
		return d.cfg.Email
	case ChannelSMS:
		return d.cfg.SMS
	}
	return nil
}

// deliver makes one attempt at message id and records its outcome.
func (d *Dispatcher) deliver(ctx context.Context, id uint64) (bool, error) {
	var r Record
	if err := d.cfg.DB.View(func(tx *bolt.Tx) (err error) { r, err = Get(tx, id); return err }); err != nil {
		return false, err
	}
	if r.Status != StatusPending {
		return false, nil
	}
	var sendErr error
	if s := d.sender(r.Channel); s == nil {
		sendErr = Permanent(fmt.Errorf("%w: unknown channel", ErrInvalidMessage))
	} else {
		sctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
		start := time.Now()
		sendErr = s.Send(sctx, r)
		cancel()
		d.m.duration.WithLabelValues(r.Channel).Observe(time.Since(start).Seconds())
	}
	if sendErr != nil && ctx.Err() != nil {
		// Shutting down: the attempt does not count against the message.
		return false, ctx.Err()
	}
	return sendErr == nil, d.record(id, sendErr)
}

// record writes the outcome of an attempt in its own transaction.
func (d *Dispatcher) record(id uint64, sendErr error) error {
	now := d.cfg.Now().UTC()
	var r Record
	changed := false
	err := d.cfg.DB.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = Get(tx, id); err != nil || r.Status != StatusPending {
			return err
		}
		changed = true
		r.Attempts++
		switch {
		case sendErr == nil:
			r.Status, r.Sent, r.LastError, r.NextAttempt = StatusSent, now, "", time.Time{}
		case errors.Is(sendErr, ErrPermanent) || r.Attempts >= d.cfg.Backoff.MaxAttempts:
			r.Status, r.LastError, r.NextAttempt = StatusFailed, truncate(sendErr.Error(), 500), time.Time{}
		default:
			r.LastError, r.NextAttempt = truncate(sendErr.Error(), 500), now.Add(d.cfg.Backoff.delay(r.Attempts))
		}
		return put(tx, r)
	})
	if err != nil {
		// Not marked: the message stays pending and will be sent again.
		return fmt.Errorf("notify: record outcome of outbox message %d: %w", id, err)
	}
	if !changed {
		return nil
	}
	log := d.cfg.Logger.With("outbox_id", r.ID, "kind", r.Kind, "channel", r.Channel, "attempt", r.Attempts)
	switch r.Status {
	case StatusSent:
		d.m.messages.WithLabelValues(r.Channel, "sent").Inc()
		log.Info("notify: message sent")
	case StatusFailed:
		d.m.messages.WithLabelValues(r.Channel, "failed").Inc()
		log.Error("notify: message failed, giving up", "error_class", errorClass(sendErr), "permanent", errors.Is(sendErr, ErrPermanent))
	default:
		d.m.messages.WithLabelValues(r.Channel, "retry").Inc()
		log.Warn("notify: send failed, will retry", "error_class", errorClass(sendErr), "next_attempt", r.NextAttempt)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func idOf(k []byte) uint64 { return binary.BigEndian.Uint64(k) }
