package actions

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestUnifiedDiff(t *testing.T) {
	lines := func(n int, f string) string {
		var sb strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&sb, f+"\n", i)
		}
		return sb.String()
	}
	tests := []struct {
		name, a, b, want string
	}{
		{name: "equal", a: "a\nb\n", b: "a\nb\n", want: ""},
		{name: "both empty", want: ""},
		{name: "created", a: "", b: "a\nb\n", want: "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{name: "deleted", a: "a\n", b: "", want: "--- old\n+++ new\n@@ -1 +0,0 @@\n-a\n"},
		{name: "one line changed", a: "a\nb\nc\n", b: "a\nB\nc\n", want: "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{name: "insert at start", a: "b\nc\n", b: "a\nb\nc\n", want: "--- old\n+++ new\n@@ -1,2 +1,3 @@\n+a\n b\n c\n"},
		{name: "append", a: "a\n", b: "a\nb\n", want: "--- old\n+++ new\n@@ -1 +1,2 @@\n a\n+b\n"},
		{
			name: "context of three",
			a:    lines(10, "l%d"),
			b:    strings.Replace(lines(10, "l%d"), "l5\n", "L5\n", 1),
			want: "--- old\n+++ new\n@@ -2,7 +2,7 @@\n l2\n l3\n l4\n-l5\n+L5\n l6\n l7\n l8\n",
		},
		{
			name: "two hunks",
			a:    lines(20, "l%d"),
			b:    strings.Replace(strings.Replace(lines(20, "l%d"), "l2\n", "L2\n", 1), "l18\n", "L18\n", 1),
			want: "--- old\n+++ new\n@@ -1,5 +1,5 @@\n l1\n-l2\n+L2\n l3\n l4\n l5\n" +
				"@@ -15,6 +15,6 @@\n l15\n l16\n l17\n-l18\n+L18\n l19\n l20\n",
		},
		{
			name: "changes six lines apart share a hunk",
			a:    lines(12, "l%d"),
			b:    strings.Replace(strings.Replace(lines(12, "l%d"), "l2\n", "L2\n", 1), "l9\n", "L9\n", 1),
			want: "--- old\n+++ new\n@@ -1,12 +1,12 @@\n l1\n-l2\n+L2\n l3\n l4\n l5\n l6\n l7\n l8\n-l9\n+L9\n l10\n l11\n l12\n",
		},
		{
			name: "minimal: a moved line is one delete and one insert",
			a:    "a\nb\nc\nd\n",
			b:    "b\nc\nd\na\n",
			want: "--- old\n+++ new\n@@ -1,4 +1,4 @@\n-a\n b\n c\n d\n+a\n",
		},
		{name: "no final newline", a: "a\nb", b: "a\nc", want: "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unifiedDiff("old", "new", tt.a, tt.b); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// hunkHeader is a unified diff's "@@ -start[,n] +start[,n] @@".
var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$`)

// diffCounts applies the unified diff d to the lines a and counts its
// deleted and inserted lines.
func diffCounts(t *testing.T, d string, a []string) (applied []string, deleted, inserted int) {
	t.Helper()
	next := 0 // the next line of a not yet copied
	for _, l := range strings.Split(strings.TrimSuffix(d, "\n"), "\n") {
		if m := hunkHeader.FindStringSubmatch(l); m != nil {
			start, _ := strconv.Atoi(m[1])
			if m[2] != "0" {
				start-- // 1-based, but an empty range names the line before
			}
			applied = append(applied, a[next:start]...)
			next = start
			continue
		}
		switch {
		case l == "" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ "):
		case l[0] == ' ':
			if next >= len(a) || a[next] != l[1:] {
				t.Fatalf("context %q does not match line %d", l, next+1)
			}
			applied = append(applied, l[1:])
			next++
		case l[0] == '-':
			if next >= len(a) || a[next] != l[1:] {
				t.Fatalf("deleted %q does not match line %d", l, next+1)
			}
			deleted++
			next++
		case l[0] == '+':
			applied = append(applied, l[1:])
			inserted++
		default:
			t.Fatalf("unexpected diff line %q", l)
		}
	}
	return append(applied, a[next:]...), deleted, inserted
}

// lcsLen is the longest common subsequence's length, by dynamic
// programming: a minimal script keeps exactly that many lines.
func lcsLen(a, b []string) int {
	prev := make([]int, len(b)+1)
	for i := range a {
		cur := make([]int, len(b)+1)
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev = cur
	}
	return prev[len(b)]
}

// Random texts: the diff rebuilds the new side from the old and is
// minimal (it keeps as many lines as their longest common subsequence).
func TestDiffLinesMinimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() []string {
		out := make([]string, r.IntN(30))
		for i := range out {
			out[i] = string(rune('a' + r.IntN(4)))
		}
		return out
	}
	join := func(l []string) string {
		if len(l) == 0 {
			return ""
		}
		return strings.Join(l, "\n") + "\n"
	}
	for i := range 500 {
		a, b := gen(), gen()
		d := unifiedDiff("old", "new", join(a), join(b))
		got, deleted, inserted := diffCounts(t, d, a)
		if !slices.Equal(got, b) {
			t.Fatalf("case %d: diff does not rebuild %q → %q:\n%s", i, a, b, d)
		}
		if kept := len(a) - deleted; kept != lcsLen(a, b) || len(b)-inserted != kept {
			t.Fatalf("case %d: %q → %q keeps %d lines, LCS is %d", i, a, b, kept, lcsLen(a, b))
		}
	}
}

// Texts thousands of line edits apart still diff correctly (the whole
// middle replaced), quickly.
func TestDiffLinesTooFarApart(t *testing.T) {
	var a, b []string
	for i := range 2010 {
		a = append(a, fmt.Sprintf("a%d", i))
		b = append(b, fmt.Sprintf("b%d", i))
	}
	a = append([]string{"same"}, a...)
	b = append([]string{"same"}, b...)
	d := unifiedDiff("old", "new", strings.Join(a, "\n")+"\n", strings.Join(b, "\n")+"\n")
	got, _, _ := diffCounts(t, d, a)
	if !slices.Equal(got, b) || !strings.Contains(d, "@@\n same\n") {
		t.Fatal("diff does not rebuild the texts")
	}
}

func TestDisplayYAMLCleansAndRedacts(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{
			"name": "db", "namespace": "prod", "uid": "u-1", "resourceVersion": "7", "generation": int64(2),
			"creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": []any{map[string]any{"manager": "kubectl"}},
			"annotations": map[string]any{lastAppliedAnnotation: `{"data":{"password":"c2VjcmV0"}}`},
			"labels":      map[string]any{"app": "db"},
		},
		"data":       map[string]any{"password": "c2VjcmV0dmFsdWU="},
		"stringData": map[string]any{"user": "admin-user"},
		"type":       "Opaque",
	}}
	red := newRedactor()
	got, err := displayYAML(u, red)
	if err != nil {
		t.Fatal(err)
	}
	mark := func(field, v string) string { return red.marker(field, v) }
	want := "apiVersion: v1\ndata:\n  password: " + mark("data", "c2VjcmV0dmFsdWU=") + "\nkind: Secret\nmetadata:\n  labels:\n    app: db\n  name: db\n  namespace: prod\nstringData:\n  user: " + mark("stringData", "admin-user") + "\ntype: Opaque\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// The same value by data and by stringData has one marker.
	if mark("data", "c2VjcmV0dmFsdWU=") != mark("stringData", "secretvalue") || mark("data", "c2VjcmV0dmFsdWU=") == mark("data", "b3RoZXI=") {
		t.Error("markers do not compare values")
	}
	if s := red.scrub("server said: secretvalue and c2VjcmV0dmFsdWU= and admin-user, ok"); s != "server said: <redacted> and <redacted> and <redacted>, ok" {
		t.Errorf("scrub = %q", s)
	}
	if u.GetResourceVersion() != "7" || u.Object["data"].(map[string]any)["password"] != "c2VjcmV0dmFsdWU=" {
		t.Error("displayYAML modified its argument")
	}
	// A ConfigMap is shown as is, and its values are never scrubbed.
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"k": "plain"}}}
	red2 := newRedactor()
	if got, _ := displayYAML(cm, red2); !strings.Contains(got, "k: plain") || red2.scrub("plain") != "plain" {
		t.Errorf("ConfigMap shown as %q", got)
	}
}

func TestPluralize(t *testing.T) {
	for kind, want := range map[string]string{"widget": "widgets", "policy": "policies", "gateway": "gateways", "ingress": "ingresses", "mailbox": "mailboxes", "patch": "patches"} {
		if got := pluralize(kind); got != want {
			t.Errorf("pluralize(%q) = %q, want %q", kind, got, want)
		}
	}
}

// Diffs stay bounded: a huge object is not searched, a huge plan is cut
// at a line, saying so.
func TestDiffLimits(t *testing.T) {
	big := strings.Repeat("data: "+strings.Repeat("x", 1000)+"\n", diffInputLimit/1000+10)
	d := unifiedDiff("live/a", "planned/a", big, big+"more: 1\n")
	if !strings.Contains(d, "@@ not diffed: ") || len(d) > 1000 {
		t.Errorf("huge diff = %d bytes: %.200q", len(d), d)
	}
	if capDiff("a\nb\n") != "a\nb\n" {
		t.Error("a short diff is cut")
	}
	long := strings.Repeat("+line of the plan\n", DiffLimit/10)
	c := capDiff(long)
	if len(c) > DiffLimit+100 || !strings.HasSuffix(c, "more bytes not shown\n") || strings.Count(c, "\n")-1 != strings.Count(c[:strings.LastIndex(c, "…")], "\n") {
		t.Errorf("capped diff: %d bytes, ends %q", len(c), c[len(c)-80:])
	}
}
