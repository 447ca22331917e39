package probes

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseExpr(t *testing.T) {
	values := map[string]float64{"failing": 1, "ready": 3, "days_left": 20.5}
	tests := []struct {
		src  string
		want bool
	}{
		{src: "", want: true},
		{src: "   ", want: true},
		{src: "failing > 0", want: true},
		{src: "failing>0", want: true},
		{src: "failing == 0", want: false},
		{src: "failing != 0", want: true},
		{src: "ready >= 3", want: true},
		{src: "ready <= 2.5", want: false},
		{src: "days_left < 21", want: true},
		{src: "days_left < 2e1", want: false},
		{src: "failing > 0 && ready < 3", want: false},
		{src: "failing > 0 && ready >= 3", want: true},
		{src: "failing == 0 || ready == 3", want: true},
		{src: "failing == 0 || ready == 2 && days_left > 0", want: false}, // && binds tighter
		{src: "ready > -1", want: true},
		{src: "failing < ready", want: true}, // a value on the right
		{src: "ready < failing", want: false},
		{src: "ready<=ready && failing != 0", want: true},
	}
	for _, tt := range tests {
		e, err := ParseExpr(tt.src)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tt.src, err)
			continue
		}
		got, err := e.Eval(values)
		if err != nil {
			t.Errorf("Eval(%q): %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Eval(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func TestParseExprErrors(t *testing.T) {
	tests := []struct {
		src     string
		wantCol int
		wantMsg string
	}{
		{src: "> 0", wantCol: 1, wantMsg: "want a value name"},
		{src: "failing", wantCol: 8, wantMsg: "want one of < <= > >= == !="},
		{src: "failing >", wantCol: 10, wantMsg: "want a number"},
		{src: "failing > #abc", wantCol: 11, wantMsg: `want a number or a value name, got "#abc"`},
		{src: "failing > 0 ready < 1", wantCol: 13, wantMsg: "want && or ||"},
		{src: "failing > 0 &&", wantCol: 15, wantMsg: "got the end"},
		{src: "failing = 0", wantCol: 9, wantMsg: "want one of"},
		{src: "1x > 0", wantCol: 1, wantMsg: "want a value name"},
		{src: "x > 1.2.3", wantCol: 5, wantMsg: "want a number"},
	}
	for _, tt := range tests {
		_, err := ParseExpr(tt.src)
		var ee *ExprError
		if !errors.As(err, &ee) {
			t.Errorf("ParseExpr(%q): err = %v, want *ExprError", tt.src, err)
			continue
		}
		if ee.Col != tt.wantCol || !strings.Contains(ee.Msg, tt.wantMsg) {
			t.Errorf("ParseExpr(%q) = column %d %q, want column %d containing %q", tt.src, ee.Col, ee.Msg, tt.wantCol, tt.wantMsg)
		}
	}
}

func TestExprEvalMissingValue(t *testing.T) {
	e, err := ParseExpr("ready > 0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Eval(map[string]float64{"other": 1}); err == nil {
		t.Error("Eval with the value missing: no error")
	}
	e, err = ParseExpr("ready < desired")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Names(), []string{"desired", "ready"}) {
		t.Errorf("Names() = %v, want both sides", e.Names())
	}
	if _, err := e.Eval(map[string]float64{"ready": 1}); err == nil || !strings.Contains(err.Error(), `"desired"`) {
		t.Errorf("Eval with the right-hand value missing: %v", err)
	}
}

func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"", "a > 1", "a>=1 && b<2 || c==3", "x != -1e3", "&&", "a >", "a > 1 ||"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			var ee *ExprError
			if !errors.As(err, &ee) || ee.Col < 1 || ee.Col > len(src)+1 {
				t.Fatalf("ParseExpr(%q): error %v has no column inside the input", src, err)
			}
			return
		}
		vals := map[string]float64{}
		for _, n := range e.Names() {
			vals[n] = 1
		}
		if _, err := e.Eval(vals); err != nil {
			t.Fatalf("Eval(%q) with every name set: %v", src, err)
		}
	})
}

func TestCompileOutcomes(t *testing.T) {
	known := []string{"failing", "ready"}
	tests := []struct {
		name    string
		specs   []OutcomeSpec
		wantErr []string // substrings, all must appear
	}{
		{name: "ok", specs: []OutcomeSpec{{Fail: &RuleSpec{When: "failing > 0"}}, {Pass: &RuleSpec{}}}},
		{name: "none set", specs: []OutcomeSpec{{}}, wantErr: []string{"outcomes[0]: want exactly one of fail, warn, pass; got 0"}},
		{name: "two set", specs: []OutcomeSpec{{Fail: &RuleSpec{}, Pass: &RuleSpec{}}}, wantErr: []string{"got 2 (fail, pass)"}},
		{name: "unknown value", specs: []OutcomeSpec{{Warn: &RuleSpec{When: "latency > 1"}}}, wantErr: []string{`outcomes[0].warn.when: unknown value "latency"; this probe observes: failing, ready`}},
		{name: "syntax error with column", specs: []OutcomeSpec{{Pass: &RuleSpec{}}, {Fail: &RuleSpec{When: "failing >"}}}, wantErr: []string{"outcomes[1].fail.when: column 10: want a number"}},
		{name: "all errors at once", specs: []OutcomeSpec{{}, {Fail: &RuleSpec{When: "x > 1"}}}, wantErr: []string{"outcomes[0]", "outcomes[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileOutcomes(tt.specs, known)
			checkErrors(t, err, tt.wantErr)
		})
	}
}

func TestJudge(t *testing.T) {
	rules, err := CompileOutcomes([]OutcomeSpec{
		{Fail: &RuleSpec{When: "failing > 0", Message: "{{failing}} of {{total}} not ready"}},
		{Warn: &RuleSpec{When: "days_left < 21", Message: "expires in {{days_left}} days"}},
		{Pass: &RuleSpec{When: "failing == 0"}},
	}, []string{"failing", "total", "days_left"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		obs         Observation
		rules       Outcomes
		wantStatus  Status
		wantMessage string
	}{
		{name: "fail first", obs: Observation{Values: map[string]float64{"failing": 1, "total": 4, "days_left": 90}}, rules: rules, wantStatus: StatusFail, wantMessage: "1 of 4 not ready"},
		{name: "warn", obs: Observation{Values: map[string]float64{"failing": 0, "total": 4, "days_left": 20.25}}, rules: rules, wantStatus: StatusWarn, wantMessage: "expires in 20.25 days"},
		{name: "pass", obs: Observation{Values: map[string]float64{"failing": 0, "total": 4, "days_left": 90}}, rules: rules, wantStatus: StatusPass},
		{name: "no rule matches fails", obs: Observation{Values: map[string]float64{"failing": -1, "total": 4, "days_left": 90}}, rules: rules, wantStatus: StatusFail, wantMessage: "no outcome rule matched"},
		{name: "no rules at all fails", obs: Observation{Values: map[string]float64{}}, rules: nil, wantStatus: StatusFail},
		{name: "missing value is an error", obs: Observation{Values: map[string]float64{"total": 4}}, rules: rules, wantStatus: StatusError, wantMessage: `no value "failing"`},
		{name: "observation error", obs: Observation{Err: errors.New("dial tcp: connection refused")}, rules: rules, wantStatus: StatusError, wantMessage: "connection refused"},
		{name: "forbidden", obs: Observation{Err: &ForbiddenError{Verb: "list", Resource: "clusterissuers.cert-manager.io"}}, rules: rules, wantStatus: StatusForbidden, wantMessage: "forbidden: list clusterissuers.cert-manager.io"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Judge(tt.obs, tt.rules)
			if res.Status != tt.wantStatus || !strings.Contains(res.Message, tt.wantMessage) {
				t.Errorf("Judge = %s %q, want %s %q", res.Status, res.Message, tt.wantStatus, tt.wantMessage)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for s := StatusPending; s <= StatusForbidden; s++ {
		var back Status
		text, _ := s.MarshalText()
		if err := back.UnmarshalText(text); err != nil || back != s {
			t.Errorf("%v: round trip gave %v, %v", s, back, err)
		}
	}
	if err := new(Status).UnmarshalText([]byte("green")); err == nil {
		t.Error("UnmarshalText(green): no error")
	}
	tests := []struct {
		in   []Status
		want Status
	}{
		{in: nil, want: StatusPass},
		{in: []Status{StatusPass, StatusWarn}, want: StatusWarn},
		{in: []Status{StatusWarn, StatusPending}, want: StatusPending},
		{in: []Status{StatusFail, StatusPending, StatusPass}, want: StatusFail},
		{in: []Status{StatusFail, StatusError}, want: StatusError},
		{in: []Status{StatusForbidden, StatusError}, want: StatusForbidden},
	}
	for _, tt := range tests {
		if got := Worst(tt.in...); got != tt.want {
			t.Errorf("Worst(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestLookup(t *testing.T) {
	if _, err := Lookup("http"); err != nil {
		t.Errorf("Lookup(http): %v", err)
	}
	_, err := Lookup("k8s.nope")
	if !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), `probe "k8s.nope"`) {
		t.Errorf("Lookup(k8s.nope) = %v", err)
	}
}

// checkErrors holds an error (a spec's Validate, CompileOutcomes) to the substrings
// wanted; no
// substrings means no error.
func checkErrors(t *testing.T, err error, wantErr []string) {
	t.Helper()
	if len(wantErr) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", wantErr)
	}
	for _, w := range wantErr {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}
