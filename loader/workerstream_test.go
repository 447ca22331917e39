package loader

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// samples returns n latencies in µs from 1 to 500 ms, most of them short.
func samples(rng *rand.Rand, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		v := int64(rng.ExpFloat64() * 20_000)
		out[i] = min(max(v, 1_000), 500_000)
	}
	return out
}

// histOf records values into a histogram of the loader's geometry.
func histOf(t testing.TB, values ...int64) *hdr.Histogram {
	t.Helper()
	h := NewHistogram()
	for _, v := range values {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// encode encodes h or fails the test.
func encode(t testing.TB, h *hdr.Histogram) string {
	t.Helper()
	s, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testInterval is interval index of a worker: corrected and raw latencies
// from the values, counts from them.
func testInterval(t testing.TB, index int, cor, raw []int64) Interval {
	t.Helper()
	return Interval{Index: index, Start: time.Duration(index) * time.Second, End: time.Duration(index+1) * time.Second,
		Time:    time.Unix(1_700_000_000+int64(index), 0).UTC(),
		Latency: encode(t, histOf(t, cor...)), Raw: encode(t, histOf(t, raw...)),
		Requests: int64(len(cor)), Failed: 2, Errored: 3, BytesIn: 100 * int64(len(cor)), BytesOut: 50,
		Status: map[int]int64{200: int64(len(cor)) - 2, 503: 2}, Errors: map[string]int64{"http_5xx": 2, "check_failed": 1},
		VUs: 4, TargetRate: 10, Due: 11, Sent: 10, Dropped: 1}
}

// Every line the writer writes decodes to what was written, histograms
// included; other log lines are passed over.
func TestWorkerLineRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iv := testInterval(t, 41, samples(rng, 500), samples(rng, 500))
	closed := iv
	closed.Raw = ""
	total := testInterval(t, 0, samples(rng, 900), samples(rng, 900))
	total.End = 60 * time.Second
	lines := []WorkerLine{
		{Worker: 3, Workers: 8, Interval: &iv},
		{Worker: 0, Workers: 1, Interval: &closed},
		{Worker: 7, Workers: 8, Final: &WorkerFinal{Intervals: 60, Total: total}},
	}
	var out bytes.Buffer
	out.WriteString("2026/01/02 worker starting\n")
	for _, l := range lines {
		if err := WriteWorkerLine(&out, l); err != nil {
			t.Fatal(err)
		}
		out.WriteString("some other log line\n")
	}
	var got []WorkerLine
	for _, raw := range strings.SplitAfter(out.String(), "\n") {
		if raw == "" {
			continue
		}
		l, ok, err := DecodeWorkerLine([]byte(raw))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if !ok {
			if strings.HasPrefix(raw, WorkerMarker) {
				t.Fatalf("a marked line was passed over: %q", raw)
			}
			continue
		}
		if !strings.HasSuffix(raw, "}\n") || strings.Count(raw, "\n") != 1 {
			t.Errorf("not one line: %q", raw)
		}
		got = append(got, l)
	}
	if len(got) != len(lines) {
		t.Fatalf("decoded %d lines, want %d", len(got), len(lines))
	}
	for i, l := range got {
		if !reflect.DeepEqual(l, lines[i]) {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, l, lines[i])
		}
	}
	// Line endings of any kind are the line's, not the JSON's.
	var b bytes.Buffer
	if err := WriteWorkerLine(&b, lines[0]); err != nil {
		t.Fatal(err)
	}
	crlf := bytes.Replace(b.Bytes(), []byte("\n"), []byte("\r\n"), 1)
	for _, in := range [][]byte{b.Bytes(), bytes.TrimSuffix(b.Bytes(), []byte("\n")), crlf} {
		if _, ok, err := DecodeWorkerLine(in); !ok || err != nil {
			t.Errorf("%q: ok %v, err %v", in[len(in)-3:], ok, err)
		}
	}
}

// A marked line that is not a valid worker line is an error that says
// what is wrong; the writer refuses to write one.
func TestWorkerLineMalformed(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	iv := testInterval(t, 2, samples(rng, 50), samples(rng, 50))
	var good bytes.Buffer
	if err := WriteWorkerLine(&good, WorkerLine{Worker: 1, Workers: 2, Interval: &iv}); err != nil {
		t.Fatal(err)
	}
	line := good.String()
	other := encode(t, hdr.New(1, 1000, 2))
	tests := []struct {
		name, line, want string
	}{
		{"not JSON", WorkerMarker + "hello", "invalid character"},
		{"truncated", line[:len(line)/2], "unexpected EOF"},
		{"text after", strings.TrimSuffix(line, "\n") + " extra\n", "text after the JSON object"},
		{"unknown field", WorkerMarker + `{"worker":0,"workers":1,"bogus":1}`, `unknown field "bogus"`},
		{"no workers", strings.Replace(line, `"workers":2`, `"workers":0`, 1), "workers: must be at least 1, got 0"},
		{"worker out of range", strings.Replace(line, `"worker":1`, `"worker":2`, 1), "worker: must be from 0 to 1, got 2"},
		{"negative worker", strings.Replace(line, `"worker":1`, `"worker":-1`, 1), "worker: must be from 0 to 1, got -1"},
		{"neither part", WorkerMarker + `{"worker":0,"workers":1}`, "exactly one of interval and final"},
		{"both parts", strings.Replace(line, `"interval":`, `"final":{"intervals":1,"total":{"latency":"x"}},"interval":`, 1), "exactly one of interval and final"},
		{"negative index", strings.Replace(line, `"index":2`, `"index":-2`, 1), "interval.index: must be >= 0, got -2"},
		{"end before start", strings.Replace(line, `"endNs":3000000000`, `"endNs":1`, 1), "interval.endNs: the interval runs from 2000000000 to 1 ns"},
		{"negative count", strings.Replace(line, `"requests":50`, `"requests":-50`, 1), "interval: a count is negative"},
		{"no latency", strings.Replace(line, `"latency":"`+iv.Latency+`"`, `"latency":""`, 1), "interval.latency: is required"},
		{"latency not a histogram", strings.Replace(line, iv.Latency, "bm90IGEgaGlzdG9ncmFt", 1), "interval.latency: not a loader latency histogram"},
		{"raw of another geometry", strings.Replace(line, iv.Raw, other, 1), "interval.raw: not a loader latency histogram: geometry 1..1000"},
		{"negative final intervals", WorkerMarker + `{"worker":0,"workers":1,"final":{"intervals":-1,"total":{"latency":"x"}}}`, "final.intervals: must be >= 0"},
		{"final latency", WorkerMarker + `{"worker":0,"workers":1,"final":{"intervals":1,"total":{"latency":"x"}}}`, "final.total.latency: not a loader latency histogram"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.line == line {
				t.Fatal("the edit did not apply")
			}
			_, ok, err := DecodeWorkerLine([]byte(tt.line))
			if !ok || !errors.Is(err, ErrWorkerLine) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ok %v, err %v; want an ErrWorkerLine saying %q", ok, err, tt.want)
			}
		})
	}
	for _, l := range []WorkerLine{{Worker: 0, Workers: 1}, {Worker: 1, Workers: 1, Interval: &iv}} {
		var b bytes.Buffer
		if err := WriteWorkerLine(&b, l); !errors.Is(err, ErrWorkerLine) || b.Len() > 0 {
			t.Errorf("wrote %+v: err %v, %d bytes", l, err, b.Len())
		}
	}
	for _, s := range []string{"", "cockpit-worker/1", "cockpit-worker/2 {}", " cockpit-worker/1 {}", "INFO cockpit-worker/1 {}"} {
		if _, ok, err := DecodeWorkerLine([]byte(s)); ok || err != nil {
			t.Errorf("%q: ok %v, err %v; want it passed over", s, ok, err)
		}
	}
}
