package loader

import (
	"fmt"
	"io"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// hdrLog writes HdrHistogram's interval log (format 1.3), readable by
// HistogramLogProcessor and hdrhistogram-go's HistogramLogReader. Values are
// microseconds, so Interval_Max is written in milliseconds (unit ratio 1000;
// pass -outputValueUnitRatio 1000 to HistogramLogProcessor). The untagged
// series is http_req_duration (corrected in open models); open models add a
// series tagged "raw" and one tagged "lag" (the generator lag).
type hdrLog struct {
	w     io.Writer
	err   error
	onErr func(error)
}

func newHDRLog(w io.Writer, start time.Time, onErr func(error)) *hdrLog {
	l := &hdrLog{w: w, onErr: onErr}
	ms := start.UnixMilli()
	secs := float64(ms) / 1000
	l.printf("#[Histogram log format version %s]\n", hdr.HISTOGRAM_LOG_FORMAT_VERSION)
	l.printf("#[Written by cockpit load: values in microseconds, Interval_Max in milliseconds]\n")
	l.printf("#[StartTime: %.3f (seconds since epoch), %s]\n", secs, start.UTC().Format(time.RFC3339))
	l.printf("#[BaseTime: %.3f (seconds since epoch)]\n", secs)
	l.printf("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n")
	return l
}

func (l *hdrLog) printf(format string, args ...any) {
	if l.err != nil {
		return
	}
	if _, err := fmt.Fprintf(l.w, format, args...); err != nil {
		l.fail(err)
	}
}

func (l *hdrLog) fail(err error) {
	l.err = err
	if l.onErr != nil {
		l.onErr(err)
	}
}

// interval writes one interval; start and end are elapsed run time.
func (l *hdrLog) interval(start, end time.Duration, h *hdr.PackedHistogram, tag string) {
	if l.err != nil {
		return
	}
	payload, err := h.EncodeV2()
	if err != nil {
		l.fail(fmt.Errorf("encode interval histogram: %w", err))
		return
	}
	prefix := ""
	if tag != "" {
		prefix = "Tag=" + tag + ","
	}
	maxMS := 0.0
	if h.TotalCount() > 0 {
		maxMS = float64(h.Max()) / 1000
	}
	l.printf("%s%.3f,%.3f,%.3f,%s\n", prefix, start.Seconds(), (end - start).Seconds(), maxMS, payload)
}
