package loader

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// A coordinator decodes two histograms per worker line, a hundred or more
// lines a second. hdrhistogram-go's Decode builds a whole histogram for
// each (a 139 KB counts array for the loader's geometry) and Merge then
// walks it value by value; here the same V2 compressed encoding is read
// straight into the buckets it fills — (index, count) pairs — which are
// added to a plain counts array. The counts array is indexed as the
// encoding and hdrhistogram-go index it, so hdr.Import turns it back
// into the very histogram the merge of the decoded ones would be.

// loaderCounts is the length of a counts array of the loader's geometry.
var loaderCounts = sync.OnceValue(func() int { return len(NewHistogram().Export().Counts) })

// bucketCount is one populated bucket of an encoded histogram.
type bucketCount struct {
	idx int32
	n   int64
}

// countsDecoder decodes encoded histograms into their populated buckets,
// reusing its buffers from one histogram to the next. Not safe for
// concurrent use.
type countsDecoder struct {
	raw     []byte
	payload []byte
	src     bytes.Reader
	z       io.ReadCloser
}

// V2 encoding constants (HdrHistogram's, as hdrhistogram-go writes them).
const (
	v2HeaderSize   = 40
	zigzagMaxBytes = 9
)

// decode appends the populated buckets of the encoded histogram s to dst
// and returns it. The histogram must have the loader's geometry; the
// error wraps ErrHistogram.
func (d *countsDecoder) decode(dst []bucketCount, s string) ([]bucketCount, error) {
	fail := func(format string, args ...any) ([]bucketCount, error) {
		return dst, fmt.Errorf("%w: %s", ErrHistogram, fmt.Sprintf(format, args...))
	}
	n := base64.StdEncoding.DecodedLen(len(s))
	if cap(d.raw) < n {
		d.raw = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(d.raw[:n], []byte(s))
	if err != nil {
		return fail("base64: %v", err)
	}
	b := d.raw[:n]
	if len(b) < 8 {
		return fail("%d bytes, fewer than the 8 of the header", len(b))
	}
	if c := int32(binary.BigEndian.Uint32(b)) &^ 0xf0; c != hdr.V2CompressedEncodingCookieBase {
		return fail("cookie %#x is not V2 compressed", c)
	}
	size := int64(binary.BigEndian.Uint32(b[4:]))
	if size > int64(len(b)-8) {
		return fail("the compressed contents are %d bytes, the header says %d", len(b)-8, size)
	}
	d.src.Reset(b[8 : 8+size])
	if d.z == nil {
		d.z, err = zlib.NewReader(&d.src)
	} else {
		err = d.z.(zlib.Resetter).Reset(&d.src, nil)
	}
	if err != nil {
		return fail("zlib: %v", err)
	}
	var h [v2HeaderSize]byte
	if _, err := io.ReadFull(d.z, h[:]); err != nil {
		return fail("header: %v", err)
	}
	cookie := int32(binary.BigEndian.Uint32(h[0:])) &^ 0xf0
	plen := int64(int32(binary.BigEndian.Uint32(h[4:])))
	offset := int32(binary.BigEndian.Uint32(h[8:]))
	digits := int32(binary.BigEndian.Uint32(h[12:]))
	lowest := int64(binary.BigEndian.Uint64(h[16:]))
	highest := int64(binary.BigEndian.Uint64(h[24:]))
	switch {
	case cookie != hdr.V2EncodingCookieBase:
		return fail("cookie %#x is not V2", cookie)
	case lowest != lowestUS || highest < highestUS || digits != sigFigs:
		return fail("geometry %d..%d µs, %d digits (want %d..%d, %d)", lowest, highest, digits, lowestUS, highestUS, sigFigs)
	case offset != 0:
		return fail("normalizing index offset %d (want 0)", offset)
	case plen < 0 || plen > int64(loaderCounts())*zigzagMaxBytes:
		return fail("payload length %d", plen)
	}
	if cap(d.payload) < int(plen)+1 {
		d.payload = make([]byte, plen+1)
	}
	// One byte more than the payload: reading to the end checks the zlib
	// checksum, and a longer payload shows.
	got, err := io.ReadFull(d.z, d.payload[:plen+1])
	if err != io.ErrUnexpectedEOF && err != io.EOF && err != nil {
		return fail("payload: %v", err)
	}
	if int64(got) != plen {
		return fail("payload of %d bytes, the header says %d", got, plen)
	}
	return appendBuckets(dst, d.payload[:plen])
}

// appendBuckets reads a V2 payload — ZigZag LEB128 counts, negative ones
// runs of empty buckets — and appends its populated buckets to dst.
func appendBuckets(dst []bucketCount, p []byte) ([]bucketCount, error) {
	limit := int64(loaderCounts())
	var idx int64
	for len(p) > 0 {
		v, n, err := zigzag(p)
		if err != nil {
			return dst, fmt.Errorf("%w: %w", ErrHistogram, err)
		}
		p = p[n:]
		switch {
		case v < 0:
			if v == math.MinInt64 || -v > limit-idx {
				return dst, fmt.Errorf("%w: a run of %d empty buckets at bucket %d overruns the %d", ErrHistogram, -v, idx, limit)
			}
			idx -= v
		case idx >= limit:
			return dst, fmt.Errorf("%w: bucket %d is past the loader's %d (a value above %d µs)", ErrHistogram, idx, limit, highestUS)
		default:
			if v > 0 {
				dst = append(dst, bucketCount{int32(idx), v})
			}
			idx++
		}
	}
	return dst, nil
}

var errZigzag = errors.New("truncated count")

// zigzag reads one of HdrHistogram's ZigZag LEB128-64b9B numbers: seven
// bits a byte, least significant first, and all eight of a ninth byte.
func zigzag(b []byte) (int64, int, error) {
	var u uint64
	for i := range zigzagMaxBytes {
		if i == len(b) {
			return 0, 0, errZigzag
		}
		c := b[i]
		if i == zigzagMaxBytes-1 {
			u |= uint64(c) << 56
			return int64(u>>1) ^ -int64(u&1), i + 1, nil
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return int64(u>>1) ^ -int64(u&1), i + 1, nil
		}
	}
	panic("unreachable")
}

// addBuckets adds buckets to counts, a counts array of the loader's
// geometry.
func addBuckets(counts []int64, buckets []bucketCount) {
	for _, b := range buckets {
		counts[b.idx] += b.n
	}
}

// histogramOf returns counts as a histogram of the loader's geometry.
func histogramOf(counts []int64) *hdr.Histogram {
	return hdr.Import(&hdr.Snapshot{LowestTrackableValue: lowestUS, HighestTrackableValue: highestUS, SignificantFigures: sigFigs,
		Counts: counts, IntegerToDoubleConversionRatio: 1})
}
