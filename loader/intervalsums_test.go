package loader

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// IntervalSums' spans are MergeIntervals' over the same intervals, and it
// keeps only the intervals of its longest window: a long run holds what a
// short one does.
func TestIntervalSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const keep = 10 * time.Second
	s := NewIntervalSums(keep)
	var ivs []Interval
	for k := range 300 {
		iv := testInterval(t, k, samples(rng, 1+rng.IntN(50)), samples(rng, 1+rng.IntN(50)))
		if k%3 == 0 {
			iv.Raw = "" // a closed model's: raw is the corrected histogram
		}
		if err := s.Add(iv); err != nil {
			t.Fatal(err)
		}
		ivs = append(ivs, iv)
		if k%50 != 49 {
			continue
		}
		for _, d := range []time.Duration{0, time.Second, 3 * time.Second, keep} {
			span, err := s.Window(d)
			if err != nil {
				t.Fatal(err)
			}
			from := 0
			if d > 0 {
				from = max(len(ivs)-int(d/time.Second), 0)
			}
			want, err := MergeIntervals(ivs[from:])
			if err != nil {
				t.Fatal(err)
			}
			if got := span.Stats(); !reflect.DeepEqual(got, want) {
				t.Fatalf("after %d intervals, window %s:\n got  %+v\n want %+v", k+1, d, got, want)
			}
			if span.Intervals != len(ivs)-from {
				t.Fatalf("window %s merges %d intervals, want %d", d, span.Intervals, len(ivs)-from)
			}
		}
	}
	if s.Len() != 300 {
		t.Fatalf("Len %d, want 300", s.Len())
	}
	// Eleven one-second intervals at most are kept for a 10 s window (the
	// oldest goes when the next comes), in a ring of 16.
	if s.kept > 11 || len(s.tail) > 16 {
		t.Fatalf("%d intervals kept in a ring of %d for a %s window", s.kept, len(s.tail), keep)
	}
	if _, err := s.Window(keep + time.Second); err == nil {
		t.Fatal("a window longer than the intervals kept was computed")
	}
}

// An interval that does not decode is refused, naming it, and changes
// nothing.
func TestIntervalSumsRefusesABadInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	s := NewIntervalSums(5 * time.Second)
	good := testInterval(t, 0, samples(rng, 20), samples(rng, 20))
	if err := s.Add(good); err != nil {
		t.Fatal(err)
	}
	before := s.Total().Stats()
	for _, bad := range []func(*Interval){
		func(iv *Interval) { iv.Latency = "not base64!" },
		func(iv *Interval) { iv.Raw = encode(t, hdr.New(1, 1000, 2)) }, // another geometry
	} {
		iv := testInterval(t, 1, samples(rng, 20), samples(rng, 20))
		bad(&iv)
		err := s.Add(iv)
		if !errors.Is(err, ErrHistogram) {
			t.Fatalf("Add of a bad interval: %v, want an error wrapping ErrHistogram", err)
		}
	}
	if s.Len() != 1 || !reflect.DeepEqual(s.Total().Stats(), before) {
		t.Fatalf("a refused interval changed the sums: Len %d", s.Len())
	}
}
