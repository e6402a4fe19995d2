package tsa

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of appliance_tsa_responses_total.
const (
	labelGranted             = "granted"
	labelBadAlg              = "bad_alg"
	labelBadDataFormat       = "bad_data_format"
	labelUnacceptedPolicy    = "unaccepted_policy"
	labelUnacceptedExtension = "unaccepted_extension"
	labelSystemFailure       = "system_failure"
	labelMethodNotAllowed    = "method_not_allowed"
	labelUnsupportedMedia    = "unsupported_media_type"
	labelTooLarge            = "too_large"
)

// metrics are the responder's collectors. They always exist; they are
// registered only when a Registerer is given.
type metrics struct {
	responses *prometheus.CounterVec
	signing   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appliance_tsa_responses_total",
			Help: "Time-stamp answers by status: granted; rejections by failInfo (bad_alg, bad_data_format, unaccepted_policy, unaccepted_extension, system_failure); HTTP refusals (method_not_allowed, unsupported_media_type, too_large). In-process tokens count too.",
		}, []string{"status"}),
		signing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "appliance_tsa_signing_duration_seconds",
			Help:    "Time to build, HSM-sign and verify one time-stamp token, in seconds.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
	}
	for _, l := range []string{labelGranted, labelBadAlg, labelBadDataFormat, labelUnacceptedPolicy, labelUnacceptedExtension,
		labelSystemFailure, labelMethodNotAllowed, labelUnsupportedMedia, labelTooLarge} {
		m.responses.WithLabelValues(l)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.responses, m.signing} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register TSA metrics: %w", err)
		}
	}
	return m, nil
}
