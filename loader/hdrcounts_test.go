package loader

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The buckets decoded straight from the encoding, added to a counts
// array and imported, are the histogram hdrhistogram-go's own Decode and
// Merge give: the same counts bucket for bucket.
func TestCountsDecoderMatchesHdr(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var d countsDecoder
	counts := make([]int64, loaderCounts())
	sum := NewHistogram()
	hists := []*hdr.Histogram{
		NewHistogram(), // empty
		histOf(t, 1),   // the lowest value
		histOf(t, highestUS, highestUS-1, 1, 1, 1),
		histOf(t, samples(rng, 5000)...),
	}
	wide := NewHistogram()
	for range 20_000 {
		_ = wide.RecordValue(1 + rng.Int64N(highestUS)) // every decade, many runs of empty buckets
	}
	big := NewHistogram()
	_ = big.RecordValues(12_345, 1<<40) // a count of nine bytes
	hists = append(hists, wide, big)
	for i, h := range hists {
		s := encode(t, h)
		want, err := hdr.Decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		buckets, err := d.decode(nil, s)
		if err != nil {
			t.Fatalf("histogram %d: %v", i, err)
		}
		one := make([]int64, loaderCounts())
		addBuckets(one, buckets)
		if got := histogramOf(one); !got.Equals(want) || got.TotalCount() != h.TotalCount() {
			t.Errorf("histogram %d: decoded %d values, want %d", i, got.TotalCount(), h.TotalCount())
		}
		addBuckets(counts, buckets)
		sum.Merge(want)
	}
	got := histogramOf(counts)
	samePercentiles(t, "the sum", got, sum)
	// What the sum encodes to decodes with the loader's own check.
	if _, err := DecodeHistogram(encode(t, got)); err != nil {
		t.Fatal(err)
	}
}

// compressed builds an encoded histogram from a V2 header and payload.
func compressed(cookie int32, lowest, highest int64, digits, offset int32, payload []byte) string {
	var inner bytes.Buffer
	for _, v := range []any{cookie, int32(len(payload)), offset, digits, lowest, highest, float64(1)} {
		_ = binary.Write(&inner, binary.BigEndian, v)
	}
	inner.Write(payload)
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(inner.Bytes())
	w.Close()
	var out bytes.Buffer
	_ = binary.Write(&out, binary.BigEndian, hdr.V2CompressedEncodingCookieBase|0x10)
	_ = binary.Write(&out, binary.BigEndian, int32(z.Len()))
	out.Write(z.Bytes())
	return base64.StdEncoding.EncodeToString(out.Bytes())
}

// What is not a histogram of the loader's geometry is an ErrHistogram
// saying why, never a panic or a wrong count.
func TestCountsDecoderRefuses(t *testing.T) {
	good := encode(t, histOf(t, 1000, 2000))
	v2 := hdr.V2EncodingCookieBase | 0x10
	tests := []struct{ name, s, want string }{
		{"not base64", "!!!", "base64"},
		{"too short", base64.StdEncoding.EncodeToString([]byte{1, 2, 3}), "fewer than the 8"},
		{"uncompressed cookie", base64.StdEncoding.EncodeToString(make([]byte, 12)), "is not V2 compressed"},
		{"cut short", good[:len(good)-8], "the header says"},
		{"another geometry", encode(t, hdr.New(1, 1000, 3)), "geometry 1..1000 µs, 3 digits"},
		{"other digits", compressed(v2, 1, highestUS, 2, 0, nil), "geometry 1..60000000 µs, 2 digits"},
		{"not V2", compressed(0x1c849301, 1, highestUS, 3, 0, nil), "is not V2"},
		{"an index offset", compressed(v2, 1, highestUS, 3, 5, nil), "normalizing index offset 5"},
		{"a truncated count", compressed(v2, 1, highestUS, 3, 0, []byte{0x80}), "truncated count"},
		{"a run past the end", compressed(v2, 1, highestUS, 3, 0, []byte{0xff, 0xff, 0x03}), "overruns"},
		{"a bucket past the end", compressed(v2, 1, 2*highestUS, 3, 0, append(zigzagRun(int64(loaderCounts())), 2)), "past the loader's"},
	}
	var d countsDecoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.decode(nil, tt.s)
			if !errors.Is(err, ErrHistogram) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want an ErrHistogram saying %q", err, tt.want)
			}
		})
	}
	// The decoder still decodes after refusing.
	if b, err := d.decode(nil, good); err != nil || len(b) != 2 {
		t.Fatalf("%v, %d buckets", err, len(b))
	}
}

// zigzagRun encodes a run of n empty buckets.
func zigzagRun(n int64) []byte {
	u := uint64((-n << 1) ^ (-n >> 63))
	var b []byte
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}
