package ocsp

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	xocsp "golang.org/x/crypto/ocsp"
)

// Label values of appliance_ocsp_responses_total.
const (
	labelGood         = "good"
	labelRevoked      = "revoked"
	labelUnknown      = "unknown"
	labelMalformed    = "malformed"
	labelUnauthorized = "unauthorized"
	labelInternal     = "internal_error"
	labelTryLater     = "try_later"

	sourceCache = "cache"
	sourceLive  = "live"
)

func statusLabel(status int) string {
	switch status {
	case xocsp.Good:
		return labelGood
	case xocsp.Revoked:
		return labelRevoked
	}
	return labelUnknown
}

// metrics are the responder's Prometheus collectors. They always exist;
// they are registered only when a Registerer is given.
type metrics struct {
	responses *prometheus.CounterVec
	signing   prometheus.Histogram
	refreshes prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appliance_ocsp_responses_total",
			Help: "OCSP responses by status (good, revoked, unknown, malformed, unauthorized, internal_error, try_later) and source (cache: pre-signed; live: signed or refused for this request).",
		}, []string{"status", "source"}),
		signing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "appliance_ocsp_signing_duration_seconds",
			Help:    "Time to build, HSM-sign and verify one OCSP response, in seconds.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		refreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "appliance_ocsp_cache_refreshes_total",
			Help: "Cached OCSP responses signed again by Refresh because less than half their lifetime was left.",
		}),
	}
	// The series that can occur, at zero. Unknown serials are never cached;
	// refused requests are always "live".
	for _, l := range []string{labelGood, labelRevoked} {
		m.responses.WithLabelValues(l, sourceCache)
	}
	for _, l := range []string{labelGood, labelRevoked, labelUnknown, labelMalformed, labelUnauthorized, labelInternal, labelTryLater} {
		m.responses.WithLabelValues(l, sourceLive)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.responses, m.signing, m.refreshes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register OCSP metrics: %w", err)
		}
	}
	return m, nil
}
