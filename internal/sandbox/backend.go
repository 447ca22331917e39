package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Route labels of the backend's metrics. Unknown paths share one label so a
// scanner cannot blow up the series count.
const (
	routeHealth    = "/health"
	routeExercises = "/api/exercises"
	routeMetrics   = "/metrics"
	routeOther     = "other"
)

// Exercise is one entry of the gravl exercise catalogue served at
// /api/exercises.
type Exercise struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Muscle    string `json:"muscle"`
	Equipment string `json:"equipment"`
}

// Exercises returns the catalogue the sandbox backend serves.
func Exercises() []Exercise {
	return []Exercise{
		{ID: 1, Name: "Barbell Back Squat", Muscle: "quadriceps", Equipment: "barbell"},
		{ID: 2, Name: "Conventional Deadlift", Muscle: "hamstrings", Equipment: "barbell"},
		{ID: 3, Name: "Bench Press", Muscle: "chest", Equipment: "barbell"},
		{ID: 4, Name: "Overhead Press", Muscle: "shoulders", Equipment: "barbell"},
		{ID: 5, Name: "Barbell Row", Muscle: "upper back", Equipment: "barbell"},
		{ID: 6, Name: "Pull-Up", Muscle: "lats", Equipment: "bodyweight"},
		{ID: 7, Name: "Push-Up", Muscle: "chest", Equipment: "bodyweight"},
		{ID: 8, Name: "Dumbbell Lunge", Muscle: "glutes", Equipment: "dumbbell"},
		{ID: 9, Name: "Romanian Deadlift", Muscle: "hamstrings", Equipment: "barbell"},
		{ID: 10, Name: "Incline Dumbbell Press", Muscle: "chest", Equipment: "dumbbell"},
		{ID: 11, Name: "Lat Pulldown", Muscle: "lats", Equipment: "cable"},
		{ID: 12, Name: "Seated Cable Row", Muscle: "upper back", Equipment: "cable"},
		{ID: 13, Name: "Leg Press", Muscle: "quadriceps", Equipment: "machine"},
		{ID: 14, Name: "Hip Thrust", Muscle: "glutes", Equipment: "barbell"},
		{ID: 15, Name: "Standing Calf Raise", Muscle: "calves", Equipment: "machine"},
		{ID: 16, Name: "Dumbbell Curl", Muscle: "biceps", Equipment: "dumbbell"},
		{ID: 17, Name: "Triceps Pushdown", Muscle: "triceps", Equipment: "cable"},
		{ID: 18, Name: "Lateral Raise", Muscle: "shoulders", Equipment: "dumbbell"},
		{ID: 19, Name: "Plank", Muscle: "abdominals", Equipment: "bodyweight"},
		{ID: 20, Name: "Kettlebell Swing", Muscle: "glutes", Equipment: "kettlebell"},
	}
}

// backendMetrics are the backend's own Prometheus series, registered on a
// private registry.
type backendMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newBackendMetrics(reg prometheus.Registerer) (*backendMetrics, error) {
	m := &backendMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gravl_http_requests_total",
			Help: "HTTP requests served by the gravl sandbox backend, by route and status code.",
		}, []string{"path", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gravl_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, injected latency included, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"path"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gravl_http_requests_in_flight",
			Help: "HTTP requests being served right now, stalled ones included.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register backend metrics: %w", err)
		}
	}
	return m, nil
}

// backend is the HTTP handler standing in for the gravl API.
type backend struct {
	faults    *Faults
	wait      WaitFunc
	metrics   *backendMetrics
	scrape    http.Handler
	exercises []byte
}

// newBackend builds the handler. wait injects latency (TimerWait in the real
// server).
func newBackend(faults *Faults, wait WaitFunc) (*backend, error) {
	reg := prometheus.NewRegistry()
	m, err := newBackendMetrics(reg)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(Exercises())
	if err != nil {
		return nil, fmt.Errorf("encode exercises: %w", err)
	}
	return &backend{
		faults:    faults,
		wait:      wait,
		metrics:   m,
		scrape:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		exercises: body,
	}, nil
}

func routeOf(path string) string {
	switch path {
	case routeHealth, routeExercises, routeMetrics:
		return path
	}
	return routeOther
}

// ServeHTTP routes, injects faults into application routes and records
// metrics for every request.
func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	route := routeOf(r.URL.Path)
	rec := &statusRecorder{ResponseWriter: w}
	b.metrics.inFlight.Inc()
	defer func() {
		b.metrics.inFlight.Dec()
		b.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status())).Inc()
		b.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}()

	if route != routeMetrics && !b.injectFaults(rec, r) {
		return
	}
	if route != routeOther && r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.Header().Set("Allow", "GET, HEAD")
		writeJSON(rec, http.StatusMethodNotAllowed, errorBody{Error: "method not allowed"})
		return
	}
	switch route {
	case routeHealth:
		writeJSON(rec, http.StatusOK, map[string]string{"status": "ok"})
	case routeExercises:
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(http.StatusOK)
		_, _ = rec.Write(b.exercises)
	case routeMetrics:
		b.scrape.ServeHTTP(rec, r)
	default:
		writeJSON(rec, http.StatusNotFound, errorBody{Error: "not found", Path: r.URL.Path})
	}
}

// injectFaults applies stall, latency and error injection in that order. It
// reports whether the request should go on to be served normally.
func (b *backend) injectFaults(w http.ResponseWriter, r *http.Request) bool {
	ctx := r.Context()
	if err := b.faults.hold(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "request abandoned while stalled"})
		return false
	}
	d, code := b.faults.draw()
	if err := b.wait(ctx, d); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "request abandoned during injected latency"})
		return false
	}
	if code != 0 {
		writeJSON(w, code, errorBody{Error: "injected fault: " + http.StatusText(code)})
		return false
	}
	return true
}

type errorBody struct {
	Error string `json:"error"`
	Path  string `json:"path,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code, body = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	if err != nil {
		return n, fmt.Errorf("write response: %w", err)
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
