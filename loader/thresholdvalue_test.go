package loader

import (
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// ThresholdValue: each metric's value and samples, from counts and a
// histogram whose values are exact (1 µs buckets below 2048 µs).
func TestThresholdValue(t *testing.T) {
	st := &Stats{Span: 2 * time.Second, Requests: 10, Failed: 1, Errored: 4, Dropped: 3,
		ChecksPassed: 6, ChecksFailed: 2, BytesIn: 5000, BytesOut: 700}
	none := &Stats{}
	lat := histOf(t, 1000, 1500, 2000, 1500)
	empty := NewHistogram()
	for _, tc := range []struct {
		line   string
		st     *Stats
		hist   *hdr.Histogram // http_req_duration's; nil: not carried
		want   float64
		wantOK bool
	}{
		{"http_req_failed: rate<1", st, nil, 0.1, true},
		{"http_req_failed: rate<1", none, nil, 0, false},
		{"errors: rate<1", st, nil, 0.4, true},
		{"checks: rate>0", st, nil, 0.75, true},
		{"checks: rate>0", none, nil, 0, false},
		{"http_reqs: count>0", st, nil, 10, true},
		{"http_reqs: rate>0", st, nil, 5, true},
		{"http_reqs: count>0", none, nil, 0, true},
		{"http_reqs: rate>0", none, nil, 0, false},
		{"iterations: rate>0", st, nil, 5, true},
		{"dropped_iterations: count<1", st, nil, 3, true},
		{"data_received: rate>0", st, nil, 2500, true},
		{"data_sent: count>0", st, nil, 700, true},
		{"http_req_duration: avg<1", st, lat, 1.5, true},
		{"http_req_duration: min<1", st, lat, 1, true},
		{"http_req_duration: max<1", st, lat, 2, true},
		{"http_req_duration: med<1", st, lat, 1.5, true},
		{"http_req_duration: p(90)<1", st, lat, 2, true},
		{"http_req_duration: count>0", st, lat, 4, true},
		{"http_req_duration: count>0", st, empty, 0, true},
		{"http_req_duration: p(95)<1", st, empty, 0, false},
		{"http_req_duration: p(95)<1", st, nil, 0, false},
		{"http_req_waiting: p(95)<1", st, lat, 0, false}, // trend() has only http_req_duration
	} {
		th, err := threshold.ParseLine(tc.line)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ThresholdValue(th, tc.st, func(metric string) *hdr.Histogram {
			if metric != "http_req_duration" || tc.hist == nil {
				return nil
			}
			return tc.hist
		})
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: %v, %v; want %v, %v", tc.line, got, ok, tc.want, tc.wantOK)
		}
	}
}
