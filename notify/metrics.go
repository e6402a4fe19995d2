package notify

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// metrics are the dispatcher's collectors. They always exist; they are
// registered only when a Registerer is given.
type metrics struct {
	messages *prometheus.CounterVec
	duration *prometheus.HistogramVec
	pending  *pendingCollector
}

func newMetrics(reg prometheus.Registerer, db *bolt.DB) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appliance_notify_messages_total",
			Help: "Delivery attempts of outbox messages by result: sent, retry (scheduled again) or failed (given up).",
		}, []string{"channel", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "appliance_notify_send_duration_seconds",
			Help:    "Time one delivery attempt took, successful or not.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"channel"}),
		pending: &pendingCollector{db: db, desc: prometheus.NewDesc(
			"appliance_notify_pending",
			"Outbox messages waiting for delivery (read from the outbox at scrape time).",
			[]string{"channel"}, nil)},
	}
	for _, ch := range []string{ChannelEmail, ChannelSMS} {
		for _, res := range []string{"sent", "retry", "failed"} {
			m.messages.WithLabelValues(ch, res)
		}
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.messages, m.duration, m.pending} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register notify metrics: %w", err)
		}
	}
	return m, nil
}

// pendingCollector counts the pending index by channel at scrape time.
type pendingCollector struct {
	db   *bolt.DB
	desc *prometheus.Desc
}

func (c *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{ChannelEmail: 0, ChannelSMS: 0}
	err := c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(BucketPending))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			counts[string(v)]++
			return nil
		})
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("read outbox: %w", err))
		return
	}
	for channel, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), channel)
	}
}
