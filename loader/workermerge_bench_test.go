package loader

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// recordedStreams are worker lines recorded once and replayed: a pool of
// payloads — one-second intervals of an open model, each with both
// histograms of streamSamples latencies from 1 to 500 ms — written as a
// worker writes them, with the worker and interval numbers padded (JSON
// allows spaces before a value) so that a replay writes any worker's
// interval k into a line in place, without building it again.
type recordedStreams struct {
	n     int
	lines [][]byte
	// where the padded numbers start in each line
	workerAt, indexAt []int
}

const (
	streamPayloads = 16
	streamSamples  = 2000
	streamPad      = 10 // digits of room for a number
)

func newRecordedStreams(b *testing.B, n int) *recordedStreams {
	b.Helper()
	rng := rand.New(rand.NewPCG(16, uint64(n)))
	s := &recordedStreams{n: n}
	for range streamPayloads {
		raw := make([]int64, streamSamples)
		cor := make([]int64, streamSamples)
		for i := range raw {
			// Log-uniform from 1 ms to 500 ms: every decade's buckets in use.
			raw[i] = int64(1000 * math.Exp(rng.Float64()*math.Log(500)))
			cor[i] = raw[i] + rng.Int64N(2_000)
		}
		iv := testInterval(b, 0, cor, raw)
		l := line(b, WorkerLine{Worker: 0, Workers: n, Interval: &iv})
		pad := bytes.Repeat([]byte(" "), streamPad-1)
		l = bytes.Replace(l, []byte(`"worker":0,`), append(append([]byte(`"worker":`), pad...), "0,"...), 1)
		l = bytes.Replace(l, []byte(`"index":0,`), append(append([]byte(`"index":`), pad...), "0,"...), 1)
		s.workerAt = append(s.workerAt, bytes.Index(l, []byte(`"worker":`))+len(`"worker":`))
		s.indexAt = append(s.indexAt, bytes.Index(l, []byte(`"index":`))+len(`"index":`))
		s.lines = append(s.lines, l)
	}
	return s
}

// line returns worker w's line for interval k, valid until the next call.
func (s *recordedStreams) line(w, k int) []byte {
	p := (w + k) % len(s.lines)
	l := s.lines[p]
	putPadded(l[s.workerAt[p]:s.workerAt[p]+streamPad], w)
	putPadded(l[s.indexAt[p]:s.indexAt[p]+streamPad], k)
	return l
}

// putPadded writes v right-aligned in dst, spaces before it.
func putPadded(dst []byte, v int) {
	var buf [20]byte
	d := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := range dst {
		dst[i] = ' '
	}
	copy(dst[len(dst)-len(d):], d)
}

// BenchmarkMergeWorkerStreams measures the coordinator's cost per worker
// line: decoding it (JSON, both histograms) and merging it, including the
// share of the merged interval's encoding that falls to each line. An op
// is one line; lines are replayed interval by interval, every worker's in
// turn, as the coordinator receives them. Reported besides ns/op:
// core-%/worker, the share of one core a worker sending one line a second
// costs (ns/op ÷ 10⁷), and core-%/run, that times the workers.
//
//	go test ./loader -run '^$' -bench BenchmarkMergeWorkerStreams -benchmem
func BenchmarkMergeWorkerStreams(b *testing.B) {
	for _, n := range []int{100, 500} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			s := newRecordedStreams(b, n)
			m, err := NewWorkerMerger(n, MergerOptions{Clock: newFakeClock()})
			if err != nil {
				b.Fatal(err)
			}
			emitted := 0
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; {
				k := i / n
				for w := 0; w < n && i < b.N; w++ {
					out, err := m.AddLine(s.line(w, k))
					if err != nil {
						b.Fatal(err)
					}
					emitted += len(out)
					i++
				}
			}
			elapsed := time.Since(start)
			if b.N >= n && emitted != b.N/n {
				b.Fatalf("%d intervals emitted from %d lines of %d workers", emitted, b.N, n)
			}
			perLine := float64(elapsed.Nanoseconds()) / float64(b.N)
			b.ReportMetric(perLine/1e7, "core-%/worker")
			b.ReportMetric(perLine/1e7*float64(n), "core-%/run")
		})
	}
}

// BenchmarkMergeWorkerStreamsMemory shows the merger's memory does not grow
// with the run: 100 workers' streams replayed for 600 intervals (ten
// minutes of one-second intervals), HeapInuse after a full GC at interval
// 60 and at interval 600, while every merged interval is handed on and
// dropped, as the coordinator does once it has journaled it. Each worker
// lags a few intervals behind the one before it, so several intervals are
// pending at once, as they are when the pods' logs arrive unevenly. The
// benchmark fails when the heap at 600 is flatLimit (256 KiB) or more
// above the heap at 60.
//
//	go test ./loader -run '^$' -bench BenchmarkMergeWorkerStreamsMemory -benchtime 1x
func BenchmarkMergeWorkerStreamsMemory(b *testing.B) {
	const n, lag = 100, 3
	var h60, h600 uint64
	for range b.N {
		s := newRecordedStreams(b, n)
		m, err := NewWorkerMerger(n, MergerOptions{Clock: newFakeClock()})
		if err != nil {
			b.Fatal(err)
		}
		emitted := 0
		for k := 0; k < 600+lag; k++ {
			for w := range n {
				// Worker w sends interval k − w%lag: up to lag intervals behind.
				if j := k - w%lag; j >= 0 && j < 600 {
					out, err := m.AddLine(s.line(w, j))
					if err != nil {
						b.Fatal(err)
					}
					emitted += len(out)
				}
			}
			switch k {
			case 60:
				h60 = heapInuse()
			case 600:
				h600 = heapInuse()
			}
		}
		if emitted != 600 {
			b.Fatalf("%d intervals emitted, want 600", emitted)
		}
		if len(m.pend) != 0 || len(m.free) > lag+1 {
			b.Fatalf("%d intervals still pending, %d kept for reuse", len(m.pend), len(m.free))
		}
	}
	b.ReportMetric(float64(h60), "heap-60-B")
	b.ReportMetric(float64(h600), "heap-600-B")
	b.ReportMetric(float64(int64(h600)-int64(h60)), "growth-B")
	if int64(h600)-int64(h60) >= flatLimit {
		b.Errorf("heap not flat: %d B at interval 60, %d B at 600 (%+d B); flat is < %d B", h60, h600, int64(h600)-int64(h60), flatLimit)
	}
}
