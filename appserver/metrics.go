package appserver

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
)

// httpMetrics counts requests by listener and status, and times them.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func (m *httpMetrics) observe(listener string, status int, took time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(listener, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(listener).Observe(took.Seconds())
}

func (s *Server) registerMetrics() error {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_http_requests_total", Help: "HTTP requests answered, by listener (app, admin) and status code.",
		}, []string{"listener", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tenantgate_http_request_duration_seconds", Help: "HTTP request latency by listener.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"listener"}),
	}
	for _, c := range []prometheus.Collector{tenantpool.NewCollector(s.pools), m.requests, m.duration} {
		if err := s.registry.Register(c); err != nil {
			return err
		}
	}
	s.metrics = m
	return nil
}
