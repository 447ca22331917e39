package probes

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// OutcomeSpec is one outcome rule as written in a runbook, in the shape of
// troubleshoot's analyzers: exactly one of fail, warn or pass.
//
//	outcomes:
//	- fail: {when: "failing > 0", message: "{{failing}} not ready"}
//	- warn: {when: "days_left < 21"}
//	- pass: {message: "all ready"}
type OutcomeSpec struct {
	Fail *RuleSpec `json:"fail,omitempty" yaml:"fail,omitempty"`
	Warn *RuleSpec `json:"warn,omitempty" yaml:"warn,omitempty"`
	Pass *RuleSpec `json:"pass,omitempty" yaml:"pass,omitempty"`
}

// RuleSpec is the body of an outcome rule. An empty When always matches.
type RuleSpec struct {
	When    string `json:"when,omitempty" yaml:"when,omitempty"`
	Message string `json:"message,omitempty" yaml:"message,omitempty"`
}

// Outcome is a compiled rule.
type Outcome struct {
	Status  Status
	When    Expr
	Message string
}

// Outcomes are evaluated in order; the first match decides.
type Outcomes []Outcome

// FieldError is a problem with one field of a spec. Field is a path relative
// to the spec ("outcomes[1].fail.when"); the runbook parser turns it into a
// file:line:col.
type FieldError struct {
	Field string
	Col   int // 1-based column inside the field's string value, 0 if none
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("%s: column %d: %s", e.Field, e.Col, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

// fieldErr builds a *FieldError; wrap it with errors.Join for several.
func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// CompileOutcomes checks rules against the values the probe observes
// (known) and compiles them.
func CompileOutcomes(specs []OutcomeSpec, known []string) (Outcomes, error) {
	var (
		out  Outcomes
		errs []error
	)
	for i, s := range specs {
		field := fmt.Sprintf("outcomes[%d]", i)
		var set []string
		var st Status
		var rule *RuleSpec
		for _, c := range []struct {
			name string
			st   Status
			r    *RuleSpec
		}{{"fail", StatusFail, s.Fail}, {"warn", StatusWarn, s.Warn}, {"pass", StatusPass, s.Pass}} {
			if c.r != nil {
				set = append(set, c.name)
				st, rule = c.st, c.r
			}
		}
		if len(set) != 1 {
			errs = append(errs, fieldErr(field, "want exactly one of fail, warn, pass; got %d (%s)", len(set), strings.Join(set, ", ")))
			continue
		}
		field += "." + set[0] + ".when"
		expr, err := ParseExpr(rule.When)
		if err != nil {
			var ee *ExprError
			if errors.As(err, &ee) {
				errs = append(errs, &FieldError{Field: field, Col: ee.Col, Msg: ee.Msg})
			} else {
				errs = append(errs, fieldErr(field, "%v", err))
			}
			continue
		}
		for _, name := range expr.Names() {
			if !slices.Contains(known, name) {
				errs = append(errs, fieldErr(field, "unknown value %q; this probe observes: %s", name, strings.Join(known, ", ")))
			}
		}
		out = append(out, Outcome{Status: st, When: expr, Message: rule.Message})
	}
	return out, errors.Join(errs...)
}

// Expr is a condition over observed values:
//
//	expr := and ("||" and)*
//	and  := cmp ("&&" cmp)*
//	cmp  := NAME OP (NUMBER | NAME)   OP: < <= > >= == !=
//
// e.g. "failing > 0 || ready < desired". The empty expression is always
// true.
type Expr struct {
	src string
	or  [][]cmp // disjunction of conjunctions
}

type cmp struct {
	name string
	op   string
	num  float64
	ref  string // when set, the right-hand side is this value, not num
}

// ExprError is a syntax error at a 1-based column.
type ExprError struct {
	Col int
	Msg string
}

func (e *ExprError) Error() string { return fmt.Sprintf("column %d: %s", e.Col, e.Msg) }

// String returns the source of the expression.
func (e Expr) String() string { return e.src }

// Names lists the value names the expression reads, sorted, once each.
func (e Expr) Names() []string {
	var names []string
	for _, and := range e.or {
		for _, c := range and {
			names = append(names, c.name)
			if c.ref != "" {
				names = append(names, c.ref)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Eval evaluates the expression. A name with no value is an error: a rule
// never matches or fails silently on a missing observation.
func (e Expr) Eval(values map[string]float64) (bool, error) {
	if len(e.or) == 0 {
		return true, nil
	}
	for _, and := range e.or {
		all := true
		for _, c := range and {
			v, ok := values[c.name]
			if !ok {
				return false, fmt.Errorf("%q: no value %q was observed", e.src, c.name)
			}
			n := c.num
			if c.ref != "" {
				if n, ok = values[c.ref]; !ok {
					return false, fmt.Errorf("%q: no value %q was observed", e.src, c.ref)
				}
			}
			if !compare(v, c.op, n) {
				all = false
				break
			}
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func compare(v float64, op string, n float64) bool {
	switch op {
	case "<":
		return v < n
	case "<=":
		return v <= n
	case ">":
		return v > n
	case ">=":
		return v >= n
	case "==":
		return v == n
	case "!=":
		return v != n
	}
	return false
}

// ParseExpr parses a condition; errors are *ExprError with the column.
func ParseExpr(src string) (Expr, error) {
	p := exprParser{src: src}
	e := Expr{src: src}
	p.space()
	if p.pos == len(src) {
		return e, nil
	}
	for {
		var and []cmp
		for {
			c, err := p.cmp()
			if err != nil {
				return Expr{}, err
			}
			and = append(and, c)
			p.space()
			if !p.eat("&&") {
				break
			}
		}
		e.or = append(e.or, and)
		if p.pos == len(src) {
			return e, nil
		}
		if !p.eat("||") {
			return Expr{}, p.errorf("want && or || or the end, got %q", p.rest())
		}
	}
}

type exprParser struct {
	src string
	pos int
}

func (p *exprParser) errorf(format string, args ...any) error {
	return &ExprError{Col: p.pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *exprParser) rest() string {
	r := p.src[p.pos:]
	if len(r) > 12 {
		r = r[:12] + "…"
	}
	return r
}

func (p *exprParser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *exprParser) eat(tok string) bool {
	p.space()
	return p.operator(tok) != ""
}

// name consumes a name whose bytes isByte accepts (first: at the name's
// start) and returns it: "" when none is there.
func (p *exprParser) name(isByte func(b byte, first bool) bool) string {
	start := p.pos
	for p.pos < len(p.src) && isByte(p.src[p.pos], p.pos == start) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// operator consumes the first of ops that the input starts with and
// returns it: "" when none does. A longer operator must come before the
// ones it starts with.
func (p *exprParser) operator(ops ...string) string {
	for _, op := range ops {
		if strings.HasPrefix(p.src[p.pos:], op) {
			p.pos += len(op)
			return op
		}
	}
	return ""
}

func (p *exprParser) cmp() (cmp, error) {
	p.space()
	c := cmp{name: p.name(isNameByte)}
	if c.name == "" {
		if p.pos == len(p.src) {
			return cmp{}, p.errorf("want a value name, got the end")
		}
		return cmp{}, p.errorf("want a value name, got %q", p.rest())
	}
	p.space()
	if c.op = p.operator("<=", ">=", "==", "!=", "<", ">"); c.op == "" {
		return cmp{}, p.errorf("want one of < <= > >= == != after %q", c.name)
	}
	p.space()
	if c.ref = p.name(isNameByte); c.ref != "" {
		return c, nil
	}
	start := p.pos
	for p.pos < len(p.src) && strings.IndexByte("+-0123456789.eE", p.src[p.pos]) >= 0 {
		p.pos++
	}
	num, err := strconv.ParseFloat(p.src[start:p.pos], 64)
	if err != nil || p.pos == start {
		p.pos = start
		return cmp{}, p.errorf("want a number or a value name, got %q", p.rest())
	}
	c.num = num
	return c, nil
}

func isNameByte(b byte, first bool) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b == '_':
		return true
	case b >= '0' && b <= '9', b == '.':
		return !first
	}
	return false
}
