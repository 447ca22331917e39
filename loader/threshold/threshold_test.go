package threshold

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		metric, expr string
		want         Threshold
	}{
		{"http_req_duration", "p(95)<200", Threshold{Agg: Aggregation{Func: Percentile, P: 95}, Op: Less, Value: 200}},
		{"http_req_duration", "p(99.9)<=500", Threshold{Agg: Aggregation{Func: Percentile, P: 99.9}, Op: LessEq, Value: 500}},
		{"http_req_duration", " p ( 90 ) < 1.5 ", Threshold{Agg: Aggregation{Func: Percentile, P: 90}, Op: Less, Value: 1.5}},
		{"http_req_duration", "p(0)>=0", Threshold{Agg: Aggregation{Func: Percentile, P: 0}, Op: GreaterEq, Value: 0}},
		{"http_req_duration", "p(100)<1e3", Threshold{Agg: Aggregation{Func: Percentile, P: 100}, Op: Less, Value: 1000}},
		{"http_req_duration", "avg<150", Threshold{Agg: Aggregation{Func: Avg}, Op: Less, Value: 150}},
		{"http_req_duration", "min>0.5", Threshold{Agg: Aggregation{Func: Min}, Op: Greater, Value: 0.5}},
		{"http_req_duration", "max<=2000", Threshold{Agg: Aggregation{Func: Max}, Op: LessEq, Value: 2000}},
		{"http_req_duration", "med!=3", Threshold{Agg: Aggregation{Func: Med}, Op: NotEqual, Value: 3}},
		{"http_req_duration", "count>=100", Threshold{Agg: Aggregation{Func: Count}, Op: GreaterEq, Value: 100}},
		{"http_req_waiting", "p(95)<100", Threshold{Agg: Aggregation{Func: Percentile, P: 95}, Op: Less, Value: 100}},
		{"http_req_failed", "rate<0.1", Threshold{Agg: Aggregation{Func: RateFunc}, Op: Less, Value: 0.1}},
		{"errors", "rate<0.01", Threshold{Agg: Aggregation{Func: RateFunc}, Op: Less, Value: 0.01}},
		{"checks", "rate==1", Threshold{Agg: Aggregation{Func: RateFunc}, Op: Equal, Value: 1}},
		{"checks", "rate===1", Threshold{Agg: Aggregation{Func: RateFunc}, Op: Equal, Value: 1}},
		{"http_reqs", "rate>100", Threshold{Agg: Aggregation{Func: RateFunc}, Op: Greater, Value: 100}},
		{"http_reqs", "count>-1", Threshold{Agg: Aggregation{Func: Count}, Op: Greater, Value: -1}},
		{"iterations", "count>+5", Threshold{Agg: Aggregation{Func: Count}, Op: Greater, Value: 5}},
		{"dropped_iterations", "count==0", Threshold{Agg: Aggregation{Func: Count}, Op: Equal, Value: 0}},
		{"data_received", "rate>1e6", Threshold{Agg: Aggregation{Func: RateFunc}, Op: Greater, Value: 1e6}},
		{"http_req_duration", "p(95)<200 over 30s", Threshold{Agg: Aggregation{Func: Percentile, P: 95}, Op: Less, Value: 200, Window: 30 * time.Second}},
		{"http_req_failed", "rate<0.1 over 1m", Threshold{Agg: Aggregation{Func: RateFunc}, Op: Less, Value: 0.1, Window: time.Minute}},
		{"http_req_duration", "avg<1 over\t1h", Threshold{Agg: Aggregation{Func: Avg}, Op: Less, Value: 1, Window: time.Hour}},
		{"http_req_duration", "p(95)<200over 1s", Threshold{Agg: Aggregation{Func: Percentile, P: 95}, Op: Less, Value: 200, Window: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.metric+" "+tt.expr, func(t *testing.T) {
			got, err := Parse(tt.metric, tt.expr)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.want.Metric = tt.metric
			if got != tt.want {
				t.Fatalf("Parse = %+v, want %+v", got, tt.want)
			}
			again, err := Parse(tt.metric, got.Expr())
			if err != nil || again != got {
				t.Fatalf("round trip of %q: %+v, %v", got.Expr(), again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		metric, expr string
		col          int
		msg          string
	}{
		{"http_req_duration", "", 1, "expected an aggregation"},
		{"http_req_duration", "   ", 4, "expected an aggregation"},
		{"http_req_duration", "<200", 1, "expected an aggregation"},
		{"http_req_duration", "p95<200", 2, `expected "(" after p`},
		{"http_req_duration", "p(95<200", 5, `expected ")"`},
		{"http_req_duration", "p()<200", 3, "expected a number"},
		{"http_req_duration", "p(x)<200", 3, "expected a number"},
		{"http_req_duration", "p(101)<200", 3, "outside 0–100"},
		{"http_req_duration", "p(-1)<200", 3, "outside 0–100"},
		{"http_req_duration", "avgg<200", 1, `unknown aggregation "avgg"`},
		{"http_req_duration", "mean<200", 1, `unknown aggregation "mean"`},
		{"http_req_duration", "rate<0.1", 1, "does not apply to a trend metric"},
		{"http_req_failed", "p(95)<0.1", 1, "does not apply to a rate metric"},
		{"http_req_failed", "count<5", 1, "does not apply to a rate metric"},
		{"http_reqs", "avg>3", 1, "does not apply to a counter metric"},
		{"http_reqs", "  p(9)>3", 3, "does not apply to a counter metric"},
		{"http_req_duration", "p(95)", 6, "expected a comparison operator"},
		{"http_req_duration", "p(95) 200", 7, "expected a comparison operator"},
		{"http_req_duration", "p(95)=200", 6, `use "=="`},
		{"http_req_duration", "p(95)=>200", 6, `use "=="`},
		{"http_req_duration", "p(95)<", 7, "expected a number"},
		{"http_req_duration", "p(95)<abc", 7, "expected a number"},
		{"http_req_duration", "p(95)<.", 7, "expected a number"},
		{"http_req_duration", "p(95)<-", 7, "expected a number"},
		{"http_req_duration", "p(95)<200ms", 10, "plain number"},
		{"http_req_duration", "p(95)<1e", 8, "plain number"},
		{"http_req_duration", "p(95)<1e999", 7, "out of range"},
		{"http_req_duration", "p(95)<200 ms", 11, `unexpected "ms"`},
		{"http_req_duration", "p(95)<200 200", 11, `unexpected "200"`},
		{"http_req_duration", "p(95)<200,", 10, `unexpected ","`},
		{"http_req_duration", "p(95)<200 over", 15, "expected a window"},
		{"http_req_duration", "p(95)<200 over ", 16, "expected a window"},
		{"http_req_duration", "p(95)<200 overtime", 11, `unexpected "overtime"`},
		{"http_req_duration", "p(95)<200 over 30", 16, "not a duration"},
		{"http_req_duration", "p(95)<200 over 30x", 16, "not a duration"},
		{"http_req_duration", "p(95)<200 over 500ms", 16, "whole seconds"},
		{"http_req_duration", "p(95)<200 over 1.5s", 16, "whole seconds"},
		{"http_req_duration", "p(95)<200 over 2h", 16, "whole seconds from 1s to 1h0m0s"},
		{"http_req_duration", "p(95)<200 over -1s", 16, "expected a window"},
		{"http_req_duration", "p(95)<200 over 30s x", 20, `unexpected "x"`},
		{"http_req_duration", "é<1", 1, "expected an aggregation"},
		{"http_req_duration", "p(95)<200 é", 11, `unexpected "é"`},
		{"http_req_duration", "p(95)<200 éé x", 11, `unexpected "éé x"`},
	}
	for _, tt := range tests {
		t.Run(tt.metric+" "+tt.expr, func(t *testing.T) {
			_, err := Parse(tt.metric, tt.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %v, want *SyntaxError", tt.expr, err)
			}
			if se.Column != tt.col || !strings.Contains(se.Msg, tt.msg) || se.Input != tt.expr {
				t.Fatalf("Parse(%q) = column %d %q (input %q), want column %d containing %q\n%s",
					tt.expr, se.Column, se.Msg, se.Input, tt.col, tt.msg, se.Caret())
			}
		})
	}
}

func TestParseUnknownMetric(t *testing.T) {
	_, err := Parse("http_req_durations", "p(95)<200")
	if !errors.Is(err, ErrUnknownMetric) {
		t.Fatalf("error = %v, want ErrUnknownMetric", err)
	}
	if !strings.Contains(err.Error(), "http_req_duration,") {
		t.Fatalf("error %q does not list the known metrics", err)
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want Threshold
	}{
		{"http_req_duration: p(95)<200", Threshold{Metric: "http_req_duration", Agg: Aggregation{Func: Percentile, P: 95}, Op: Less, Value: 200}},
		{"  http_req_failed :rate<0.1  ", Threshold{Metric: "http_req_failed", Agg: Aggregation{Func: RateFunc}, Op: Less, Value: 0.1}},
		{"http_req_duration: p(99)<500 over 30s, abortOnFail", Threshold{Metric: "http_req_duration", Agg: Aggregation{Func: Percentile, P: 99}, Op: Less, Value: 500, Window: 30 * time.Second, AbortOnFail: true}},
		{"http_req_duration: p(99)<500, abortOnFail=true, delayAbortEval=10s", Threshold{Metric: "http_req_duration", Agg: Aggregation{Func: Percentile, P: 99}, Op: Less, Value: 500, AbortOnFail: true, DelayAbortEval: 10 * time.Second}},
		{"errors: rate<0.01,abortOnFail = false , delayAbortEval=1m", Threshold{Metric: "errors", Agg: Aggregation{Func: RateFunc}, Op: Less, Value: 0.01, DelayAbortEval: time.Minute}},
		{"http_reqs: rate>100", Threshold{Metric: "http_reqs", Agg: Aggregation{Func: RateFunc}, Op: Greater, Value: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseLine(tt.line)
			if err != nil {
				t.Fatalf("ParseLine: %v", err)
			}
			if got != tt.want {
				t.Fatalf("ParseLine = %+v, want %+v", got, tt.want)
			}
			again, err := ParseLine(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip of %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseLineErrors(t *testing.T) {
	tests := []struct {
		line string
		col  int
		msg  string
	}{
		{"", 1, "expected a metric name"},
		{": p(95)<200", 1, "expected a metric name"},
		{"http_req_duration p(95)<200", 19, `expected ":"`},
		{"http_req_duration{status:200}: p(95)<200", 18, "sub-metrics"},
		{"  nope: p(95)<200", 3, "unknown metric"},
		{"http_req_duration: p(95<200", 24, `expected ")"`},
		{"http_req_duration: p(95)<200,", 30, "expected an option"},
		{"http_req_duration: p(95)<200, abort", 31, `unknown option "abort"`},
		{"http_req_duration: p(95)<200, abortOnFail=yes", 43, "true or false"},
		{"http_req_duration: p(95)<200, abortOnFail=", 43, "expected a value"},
		{"http_req_duration: p(95)<200, delayAbortEval", 45, "needs a duration"},
		{"http_req_duration: p(95)<200, delayAbortEval=soon", 46, "not a non-negative duration"},
		{"http_req_duration: p(95)<200, delayAbortEval=-1s", 46, "not a non-negative duration"},
		{"http_req_duration: p(95)<200, abortOnFail true", 43, "unexpected"},
		{"http_req_failed: p(95)<200", 18, "does not apply"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, err := ParseLine(tt.line)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseLine(%q) error = %v, want *SyntaxError", tt.line, err)
			}
			if se.Column != tt.col || !strings.Contains(se.Msg, tt.msg) || se.Input != tt.line {
				t.Fatalf("ParseLine(%q) = column %d %q, want column %d containing %q\n%s",
					tt.line, se.Column, se.Msg, tt.col, tt.msg, se.Caret())
			}
		})
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		expr  string
		value float64
		ok    bool
		want  bool
	}{
		{"p(95)<200", 199.9, true, true},
		{"p(95)<200", 200, true, false},
		{"p(95)<=200", 200, true, true},
		{"avg>10", 10, true, false},
		{"avg>=10", 10, true, true},
		{"med==3", 3, true, true},
		{"med!=3", 3, true, false},
		{"max<1e9", 0, false, false}, // no samples: fails
		{"min>=0", 0, false, false},
	}
	for _, tt := range tests {
		th, err := Parse("http_req_duration", tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Eval(tt.value, tt.ok); got != tt.want {
			t.Errorf("%s Eval(%v, %v) = %v, want %v", tt.expr, tt.value, tt.ok, got, tt.want)
		}
	}
}

func TestCaret(t *testing.T) {
	_, err := Parse("http_req_duration", "p(95<200")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	want := "p(95<200\n    ^"
	if se.Caret() != want {
		t.Fatalf("Caret =\n%s\nwant\n%s", se.Caret(), want)
	}
}

// FuzzParseThreshold checks that any input either parses to a threshold
// whose canonical form parses back to the same threshold, or fails with a
// SyntaxError whose column lies within the input.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{
		"http_req_duration: p(95)<200",
		"http_req_duration: p(99.9)<=500 over 30s, abortOnFail, delayAbortEval=10s",
		"http_req_failed: rate<0.1",
		"http_reqs: count>=1e3",
		"errors: rate===0",
		"checks: rate!=1 over 1h",
		"http_req_duration: p(95<200",
		"x{a:b}: avg<1",
		"http_req_duration: avg < -1.5e-3 over 1m30s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		th, err := ParseLine(line)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseLine(%q) error %T %v, want *SyntaxError", line, err, err)
			}
			if n := utf8.RuneCountInString(line); se.Column < 1 || se.Column > n+1 {
				t.Fatalf("ParseLine(%q) column %d outside 1..%d", line, se.Column, n+1)
			}
			return
		}
		again, err := ParseLine(th.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", th.String(), line, err)
		}
		if again != th {
			t.Fatalf("round trip of %q: %+v != %+v", line, again, th)
		}
		// The expression alone parses the same way.
		alone, err := Parse(th.Metric, th.Expr())
		if err != nil {
			t.Fatalf("Parse(%q, %q): %v", th.Metric, th.Expr(), err)
		}
		alone.AbortOnFail, alone.DelayAbortEval = th.AbortOnFail, th.DelayAbortEval
		if alone != th {
			t.Fatalf("Parse round trip of %q: %+v != %+v", line, alone, th)
		}
	})
}
