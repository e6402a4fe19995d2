package audit

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the log's Prometheus collectors. They always exist; they are
// registered only when a Registerer is given. Counters move when the
// transaction commits (tx.OnCommit), so a rolled-back action counts nothing.
type metrics struct {
	records          prometheus.Counter
	checkpoints      prometheus.Counter
	checkpointErrors prometheus.Counter
	lastCheckpoint   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "appliance_audit_records_total",
			Help: "Audit records committed.",
		}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "appliance_audit_checkpoints_total",
			Help: "Audit checkpoints signed by the audit key and committed.",
		}),
		checkpointErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "appliance_audit_checkpoint_errors_total",
			Help: "Audit checkpoint signatures that failed (the action that needed one failed with it).",
		}),
		lastCheckpoint: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "appliance_audit_last_checkpoint_sequence",
			Help: "Sequence number of the last signed audit checkpoint; a decrease means the log was truncated.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.records, m.checkpoints, m.checkpointErrors, m.lastCheckpoint} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register audit metrics: %w", err)
		}
	}
	return m, nil
}
