package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/loader"
)

func TestWorkerConfigSegments(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		workers  int
		index    int
		wantRate float64
		wantVUs  int
		wantErr  string
	}{
		{name: "rate split", args: []string{"--rate", "300", "--duration", "10s", "http://t/"}, workers: 3, index: 1, wantRate: 100},
		{name: "uneven rate", args: []string{"--rate", "10", "--duration", "10s", "http://t/"}, workers: 4, index: 1, wantRate: 3},
		{name: "vus split", args: []string{"--vus", "10", "--duration", "10s", "http://t/"}, workers: 4, index: 0, wantVUs: 2},
		{name: "thresholds dropped", args: []string{"--rate", "30", "--threshold", "http_req_duration: p(95)<200", "http://t/"}, workers: 3, index: 2, wantRate: 10},
		{name: "too many workers", args: []string{"--vus", "2", "http://t/"}, workers: 3, index: 0, wantErr: "executor.vus"},
		{name: "bad flag", args: []string{"--bogus", "http://t/"}, workers: 1, index: 0, wantErr: "configmap key args"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := workerConfig(distload.Control{Args: tt.args, Workers: tt.workers}, tt.index)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Executor.Rate != tt.wantRate || cfg.Executor.VUs != tt.wantVUs || len(cfg.Thresholds) != 0 || cfg.Intervals != time.Second {
				t.Errorf("part = rate %v vus %d thresholds %d intervals %s, want rate %v vus %d, none, 1s",
					cfg.Executor.Rate, cfg.Executor.VUs, len(cfg.Thresholds), cfg.Intervals, tt.wantRate, tt.wantVUs)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWorkerRunsFromTheConfigMap: a worker reads its part of the test and
// the start instant from the run's ConfigMap, writes a line per interval
// and a final line whose record is the merge of its intervals, and stops
// when the ConfigMap says stop.
func TestWorkerRunsFromTheConfigMap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	args, _ := json.Marshal([]string{"--rate", "40", "--duration", "30s", srv.URL})
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: "ns"}, Data: map[string]string{
		distload.KeyArgs: string(args), distload.KeyWorkers: "2",
		distload.KeyStart: distload.FormatStart(time.Now().Add(200 * time.Millisecond))}}
	cs := fake.NewClientset(cm)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- runWorker(ctx, &out, &logs, cs, "ns", "run", 1) }()

	// Two intervals, then stop.
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for strings.Count(out.String(), loader.WorkerMarker) < 2 {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("no two interval lines in 15s; stdout %q, stderr %q", out.String(), logs.String())
		}
	}
	cm = cm.DeepCopy()
	cm.Data[distload.KeyStop] = "true"
	if _, err := cs.CoreV1().ConfigMaps("ns").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("runWorker: %v\n%s", err, logs.String())
	}
	var ivs []loader.Interval
	var final *loader.WorkerFinal
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		l, ok, err := loader.DecodeWorkerLine(sc.Bytes())
		if !ok || err != nil {
			t.Fatalf("line %q: ok %v err %v", sc.Text(), ok, err)
		}
		if l.Worker != 1 || l.Workers != 2 {
			t.Errorf("line of worker %d of %d, want 1 of 2", l.Worker, l.Workers)
		}
		switch {
		case l.Final != nil:
			final = l.Final
		case final != nil:
			t.Errorf("interval %d after the final line", l.Interval.Index)
		default:
			if l.Interval.Index != len(ivs) {
				t.Errorf("interval index %d, want %d", l.Interval.Index, len(ivs))
			}
			ivs = append(ivs, *l.Interval)
		}
	}
	if final == nil || final.Intervals != len(ivs) {
		t.Fatalf("final = %+v, want one counting %d intervals", final, len(ivs))
	}
	if len(ivs) > 10 {
		t.Errorf("%d intervals: the stop was not obeyed", len(ivs))
	}
	want, err := loader.MergeIntervals(ivs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := loader.MergeIntervals([]loader.Interval{final.Total})
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != want.Requests || got.Latency != want.Latency || got.Raw != want.Raw || want.Requests == 0 {
		t.Errorf("final record %d requests %+v, want the intervals' merge %d %+v", got.Requests, got.Latency, want.Requests, want.Latency)
	}
	if !strings.Contains(logs.String(), "stopping") {
		t.Errorf("stderr lacks the stop: %s", logs.String())
	}
}
