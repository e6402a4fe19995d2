package hsm

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// operations are the operation label values this package records.
var operations = []string{"login", "sign", "generate_key", "find_key", "get_attributes", "random", "seal", "open", "store_certificate"}

// Metrics are the HSM layer's Prometheus collectors. A nil *Metrics records
// nothing, so tests and tools may pass nil.
type Metrics struct {
	operations *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	reconnects prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appliance_hsm_operations_total",
			Help: "HSM operations by kind (login, sign, generate_key, find_key, get_attributes, random, seal, open, store_certificate) and outcome (ok, error).",
		}, []string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "appliance_hsm_operation_duration_seconds",
			Help:    "Latency of HSM operations in seconds.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appliance_hsm_errors_total",
			Help: "HSM errors by class (pin, session, device, token_not_present, key_not_found, unsupported, arguments, other).",
		}, []string{"class"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "appliance_hsm_reconnects_total",
			Help: "Times the sessions to a token were re-opened after a session or device error.",
		}),
	}
	// Create every series at zero so dashboards and alerts see them before
	// the first operation.
	for _, op := range operations {
		m.duration.WithLabelValues(op)
		for _, outcome := range []string{"ok", "error"} {
			m.operations.WithLabelValues(op, outcome)
		}
	}
	for _, c := range []ErrorClass{ClassPIN, ClassSession, ClassDevice, ClassNotPresent, ClassKeyNotFound, ClassUnsupported, ClassArguments, ClassOther} {
		m.errors.WithLabelValues(string(c))
	}
	for _, c := range []prometheus.Collector{m.operations, m.duration, m.errors, m.reconnects} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register HSM metrics: %w", err)
		}
	}
	return m, nil
}

// observe records one operation that started at start and ended with err.
func (m *Metrics) observe(op string, start time.Time, err error) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err == nil {
		m.operations.WithLabelValues(op, "ok").Inc()
		return
	}
	m.operations.WithLabelValues(op, "error").Inc()
	m.errors.WithLabelValues(string(Classify(err))).Inc()
}

func (m *Metrics) reconnected() {
	if m != nil {
		m.reconnects.Inc()
	}
}

// recovering counts err, which triggers a reconnect, by class; the retried
// operation is observed on its own.
func (m *Metrics) recovering(err error) {
	if m != nil {
		m.errors.WithLabelValues(string(Classify(err))).Inc()
	}
}
