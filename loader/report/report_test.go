package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/goldenfile"
	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
)

func lat(base time.Duration) loader.Latency {
	return loader.Latency{Count: 1000, Min: base / 4, Mean: base, P50: base * 9 / 10, P90: base * 2, P95: base * 3,
		P99: base * 5, P999: base * 8, Max: base * 10}
}

func mustThreshold(t *testing.T, line string) threshold.Threshold {
	t.Helper()
	th, err := threshold.ParseLine(line)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// snapshot is a final snapshot of an open-model run that fell behind: a
// stall shows in the corrected latency and not in the raw one.
func snapshot(t *testing.T) loader.Snapshot {
	p95 := mustThreshold(t, "http_req_duration: p(95)<200")
	failed := mustThreshold(t, "http_req_failed: rate<0.01, abortOnFail")
	noSamples := mustThreshold(t, "checks: rate>0.99")
	return loader.Snapshot{
		Seq: 42, Elapsed: 10 * time.Second, Done: true, Reason: loader.ReasonThreshold,
		Executor: loader.ConstantArrivalRate, VUs: 12, MaxVUs: 50,
		Delivery: loader.Delivery{Due: 1000, Sent: 993, Dropped: 7, Active: 9500 * time.Millisecond, MaxVUs: 50,
			VUCapReached: true, CPU: 2500 * time.Millisecond, Cores: 2, DropSeconds: 2},
		Total: loader.Stats{
			Span: 10 * time.Second, Requests: 1000, Dropped: 7, Failed: 20, Errored: 20,
			BytesIn: 123456, BytesOut: 65432,
			Errors: loader.ErrorCounts{HTTP5xx: 15, Refused: 5},
			Status: map[int]int64{200: 980, 503: 15},
			Rate:   100, Latency: lat(300 * time.Millisecond), Raw: lat(3 * time.Millisecond), Lag: lat(20 * time.Microsecond),
			Waiting: lat(2 * time.Millisecond), Connect: loader.Latency{Count: 12, Min: 80 * time.Microsecond, Mean: 150 * time.Microsecond, P50: 140 * time.Microsecond, P90: 200 * time.Microsecond, P95: 210 * time.Microsecond, P99: 220 * time.Microsecond, P999: 220 * time.Microsecond, Max: 220 * time.Microsecond},
		},
		Thresholds: []loader.ThresholdState{
			{Threshold: p95, Value: 900, HasSamples: true, Pass: false},
			{Threshold: failed, Value: 0.02, HasSamples: true, Pass: false, Aborted: true},
			{Threshold: noSamples, HasSamples: false, Pass: false},
		},
		Events: []loader.Event{
			{Elapsed: 0, Kind: loader.EventStart, Message: "constant-arrival-rate"},
			{Elapsed: 4 * time.Second, Kind: loader.EventInsufficientVUs, Value: 50, Message: "all 50 VUs busy with an iteration due: raise MaxVUs or lower the rate"},
			{Elapsed: 9500 * time.Millisecond, Kind: loader.EventAbort, Value: 0.02, Message: "http_req_failed: rate<0.01, abortOnFail failed with 0.02"},
		},
	}
}

// golden checks got against testdata/NAME.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}

func TestSummaryGolden(t *testing.T) {
	var b bytes.Buffer
	if err := Summary(&b, snapshot(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary-open.txt", b.Bytes())
}

func TestJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, snapshot(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary-open.json", b.Bytes())
	var doc Document
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Passed || doc.Raw == nil || doc.Raw.P99 != 15 || doc.Lag == nil || doc.Lag.P99 != 0.1 || doc.Latency.P99 != 1500 || doc.Errors["refused"] != 5 {
		t.Errorf("document %+v", doc)
	}
}

func TestDurationAndBytes(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{517 * time.Microsecond, "517µs"}, {12345 * time.Microsecond, "12.35ms"}, {1500 * time.Millisecond, "1.50s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	for n, want := range map[float64]string{999: "999 B", 1000: "1.0 kB", 2_500_000: "2.5 MB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%v) = %q, want %q", n, got, want)
		}
	}
}

// A shortfall is stated right under TOTAL RESULTS, with its cause, and in
// the JSON document.
func TestShortfallIsStatedFirst(t *testing.T) {
	s := snapshot(t)
	s.Delivery = loader.Delivery{Due: 2000, Sent: 820, Dropped: 1180, Active: 10 * time.Second, MaxVUs: 1, VUCapReached: true}
	var b bytes.Buffer
	if err := Summary(&b, s); err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(b.String(), "TOTAL RESULTS\n\n")
	lines := strings.SplitN(after, "\n", 3)
	want := []string{
		"    delivered_rate....................: 82.0 of 200 req/s (41 %) · 1180 of 2000 due iterations dropped (59 %)",
		"    ✗ SHORTFALL: the generator, not the service, was the limit: VU cap reached (all 1 VUs busy with iterations due); connection errors (5 refused)",
	}
	if len(lines) < 3 || lines[0] != want[0] || lines[1] != want[1] {
		t.Errorf("first lines after TOTAL RESULTS:\n%q\nwant\n%q", lines[:2], want)
	}
	doc := NewDocument(s)
	if doc.Delivery == nil || !doc.Delivery.Shortfall || doc.Delivery.Rate != 82 || doc.Delivery.TargetRate != 200 ||
		len(doc.Delivery.Causes) != 2 || !strings.HasPrefix(doc.Delivery.Message, "delivered 82.0 of 200 req/s (59 % dropped)") {
		t.Errorf("delivery %+v", doc.Delivery)
	}
}
