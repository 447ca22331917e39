package actions

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// This file holds what the apply, annotate, label and patch actions show
// of an object: its YAML cleaned of server bookkeeping, Secret values
// redacted, and a unified diff of two versions of it.

// diffContext is how many unchanged lines a hunk shows around a change.
const diffContext = 3

// maxDiffEdits bounds the Myers search: two texts further apart than this
// many line edits are shown as a whole-text replacement (of the part
// between their common prefix and suffix) rather than a minimal diff.
const maxDiffEdits = 2000

// diffLine is one line of an edit script: ' ' kept, '-' deleted from the
// old text, '+' inserted from the new one.
type diffLine struct {
	op   byte
	text string
}

// unifiedDiff is a unified diff of two texts, line by line, with
// diffContext lines of context and "--- oldName" / "+++ newName" headers;
// "" when they are equal. A missing final newline is not marked: the texts
// compared here are YAML documents, which end with one.
func unifiedDiff(oldName, newName, a, b string) string {
	if a == b {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", oldName, newName)
	if len(a)+len(b) > diffInputLimit {
		// Too large to search for a readable diff (a huge ConfigMap):
		// say so rather than spend the time and memory.
		fmt.Fprintf(&sb, "@@ not diffed: %d → %d lines, %d → %d bytes (over %d KiB) @@\n",
			len(splitLines(a)), len(splitLines(b)), len(a), len(b), diffInputLimit>>10)
		return sb.String()
	}
	script := diffLines(splitLines(a), splitLines(b))
	for _, h := range diffHunks(script) {
		sb.WriteString(h)
	}
	return sb.String()
}

// DiffLimit bounds a plan's whole diff: what is shown, journaled and
// reported. A longer one is cut at a line, saying how much was left out.
const DiffLimit = 256 << 10

// diffInputLimit bounds the two texts of one object's diff.
const diffInputLimit = 1 << 20

// capDiff cuts d to DiffLimit.
func capDiff(d string) string {
	if len(d) <= DiffLimit {
		return d
	}
	cut := strings.LastIndexByte(d[:DiffLimit], '\n') + 1
	return d[:cut] + fmt.Sprintf("… diff cut at %d KiB: %d more bytes not shown\n", DiffLimit>>10, len(d)-cut)
}

// splitLines splits s into lines without their newlines ("" has none).
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// diffLines is a shortest edit script from a to b (Myers' O(ND)
// algorithm, after trimming the common prefix and suffix).
func diffLines(a, b []string) []diffLine {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	out := make([]diffLine, 0, len(a)+len(b))
	for _, l := range a[:pre] {
		out = append(out, diffLine{' ', l})
	}
	out = append(out, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		out = append(out, diffLine{' ', l})
	}
	return out
}

// myers is Myers' greedy shortest edit script. It keeps, for each edit
// distance d, the furthest-reaching x of every diagonal k in [-d, d]
// (O(D²) memory) and walks them back. Beyond maxDiffEdits it gives up on
// minimality: everything deleted, then everything inserted.
func myers(a, b []string) []diffLine {
	n, m := len(a), len(b)
	limit := min(n+m, maxDiffEdits)
	// v[k+off] is the furthest x reached on diagonal k = x-y.
	off := limit + 1
	v := make([]int, 2*limit+3)
	var trace [][]int // trace[d] = v[-d..d] before step d
	for d := 0; d <= limit; d++ {
		trace = append(trace, slices.Clone(v[off-d:off+d+1]))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: an insertion
			} else {
				x = v[off+k-1] + 1 // right: a deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return myersBacktrack(a, b, trace)
			}
		}
	}
	out := make([]diffLine, 0, n+m)
	for _, l := range a {
		out = append(out, diffLine{'-', l})
	}
	for _, l := range b {
		out = append(out, diffLine{'+', l})
	}
	return out
}

// myersBacktrack turns myers' trace into the edit script, from the end.
func myersBacktrack(a, b []string, trace [][]int) []diffLine {
	at := func(vd []int, d, k int) int { return vd[k+d] } // vd holds v[-d..d]
	var rev []diffLine
	x, y := len(a), len(b)
	for d := len(trace) - 1; d >= 0; d-- {
		vd := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && at(vd, d, k-1) < at(vd, d, k+1)) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := 0
		if d > 0 {
			prevX = at(vd, d, prevK)
		}
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, diffLine{' ', a[x]})
		}
		if d > 0 {
			if x == prevX {
				rev = append(rev, diffLine{'+', b[prevY]})
			} else {
				rev = append(rev, diffLine{'-', a[prevX]})
			}
		}
		x, y = prevX, prevY
	}
	slices.Reverse(rev)
	return rev
}

// diffHunks formats an edit script as unified-diff hunks.
func diffHunks(script []diffLine) []string {
	var hunks []string
	// oldLine[i] and newLine[i] are the 1-based line numbers before
	// script[i] is applied, in the old and the new text.
	oldLine := make([]int, len(script)+1)
	newLine := make([]int, len(script)+1)
	oldLine[0], newLine[0] = 1, 1
	for i, l := range script {
		oldLine[i+1], newLine[i+1] = oldLine[i], newLine[i]
		if l.op != '+' {
			oldLine[i+1]++
		}
		if l.op != '-' {
			newLine[i+1]++
		}
	}
	for i := 0; i < len(script); {
		if script[i].op == ' ' {
			i++
			continue
		}
		start := max(0, i-diffContext)
		// Extend over changes closer than two contexts apart.
		end := i
		for j := i; j < len(script); j++ {
			if script[j].op != ' ' {
				end = j + 1
				continue
			}
			if j-end >= 2*diffContext {
				break
			}
		}
		end = min(len(script), end+diffContext)
		var sb strings.Builder
		oldN, newN := 0, 0
		for _, l := range script[start:end] {
			if l.op != '+' {
				oldN++
			}
			if l.op != '-' {
				newN++
			}
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(oldLine[start], oldN), hunkRange(newLine[start], newN))
		for _, l := range script[start:end] {
			sb.WriteByte(l.op)
			sb.WriteString(l.text)
			sb.WriteByte('\n')
		}
		hunks = append(hunks, sb.String())
		i = end
	}
	return hunks
}

// hunkRange is a hunk header's "start,count" as GNU diff writes it: the
// count left out when 1, and an empty range starting at the line before.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start-1)
	case 1:
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// lastAppliedAnnotation is kubectl's client-side apply record: a copy of
// the whole manifest (a Secret's data included), never shown.
const lastAppliedAnnotation = corev1.LastAppliedConfigAnnotation

// objectDiff is the unified diff of an object before (nil: absent) and
// after, both cleaned for display, under "--- live/REF" and
// "+++ <side>/REF" headers.
func objectDiff(ref, side string, before, after *unstructured.Unstructured, red *redactor) (string, error) {
	a, err := displayYAML(before, red)
	if err != nil {
		return "", fmt.Errorf("%s: live object: %w", ref, err)
	}
	b, err := displayYAML(after, red)
	if err != nil {
		return "", fmt.Errorf("%s: %s object: %w", ref, side, err)
	}
	return unifiedDiff("live/"+ref, side+"/"+ref, a, b), nil
}

// displayYAML is an object as a diff shows it: YAML (keys sorted) without
// managedFields, resourceVersion, generation, uid, creationTimestamp and
// kubectl's last-applied-configuration annotation, a Secret's values
// replaced by redaction markers. nil is "".
func displayYAML(u *unstructured.Unstructured, red *redactor) (string, error) {
	if u == nil {
		return "", nil
	}
	obj := cleanObject(u, red)
	out, err := yaml.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("marshal: %w", err)
	}
	return string(out), nil
}

// cleanObject is a copy of u cleaned for display (see displayYAML).
func cleanObject(u *unstructured.Unstructured, red *redactor) map[string]any {
	obj := u.DeepCopy().Object
	// Status is the controllers' to write: an apply does not change it,
	// and one written between the read and the dry run is not a change.
	delete(obj, "status")
	if md, ok := obj["metadata"].(map[string]any); ok {
		for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
			delete(md, f)
		}
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, lastAppliedAnnotation)
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	if isSecret(u) {
		red.addSecret(u)
		for _, f := range []string{"data", "stringData"} {
			m, ok := obj[f].(map[string]any)
			if !ok {
				if obj[f] != nil {
					obj[f] = redactedMarker
				}
				continue
			}
			for k, v := range m {
				m[k] = red.marker(f, v)
			}
		}
	}
	return obj
}

// isSecret reports whether u is a core Secret.
func isSecret(u *unstructured.Unstructured) bool {
	if u == nil {
		return false
	}
	gv := u.GetAPIVersion()
	return u.GetKind() == "Secret" && (gv == "v1" || gv == "")
}

// redactedMarker replaces a value that is not even shown by its digest.
const redactedMarker = "<redacted>"

// redactKey keys the digests of redaction markers. It is random per
// process: a plan's and an execution's markers compare (a changed value
// shows as a changed marker), but a journaled marker is no unsalted hash a
// short password could be guessed back from.
var redactKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	return k
}()

// minScrubLen is the shortest secret value scrubbed from free text (error
// messages): shorter ones would garble unrelated words.
const minScrubLen = 4

// redactor redacts Secret values: it replaces them in a displayed object
// by markers (a keyed digest, so a change stays visible without the
// value), and remembers every value it saw — in plain text and base64 —
// to scrub from any text a Result carries (an API server's error message
// echoing a manifest). Safe for concurrent use.
type redactor struct {
	mu     sync.Mutex
	values map[string]bool
}

func newRedactor() *redactor { return &redactor{values: map[string]bool{}} }

// marker is the redaction marker of a Secret value of field (data:
// base64, stringData: plain text).
func (r *redactor) marker(field string, v any) string {
	s, ok := v.(string)
	if !ok {
		return redactedMarker
	}
	plain := []byte(s)
	if field == "data" {
		if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
			plain = dec
		}
	}
	mac := hmac.New(sha256.New, redactKey)
	mac.Write(plain)
	return "<redacted hmac:" + hex.EncodeToString(mac.Sum(nil)[:4]) + ">"
}

// addSecret remembers the values of a Secret's data, stringData and
// last-applied-configuration annotation.
func (r *redactor) addSecret(u *unstructured.Unstructured) {
	if r == nil || !isSecret(u) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	add := func(s string) {
		if len(s) >= minScrubLen {
			r.values[s] = true
		}
	}
	if data, ok := u.Object["data"].(map[string]any); ok {
		for _, v := range data {
			if s, ok := v.(string); ok {
				add(s)
				if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
					add(string(dec))
				}
			}
		}
	}
	if data, ok := u.Object["stringData"].(map[string]any); ok {
		for _, v := range data {
			if s, ok := v.(string); ok {
				add(s)
				add(base64.StdEncoding.EncodeToString([]byte(s)))
			}
		}
	}
	if la := u.GetAnnotations()[lastAppliedAnnotation]; la != "" {
		add(la)
	}
}

// scrub replaces every remembered Secret value in s by a marker.
func (r *redactor) scrub(s string) string {
	if r == nil || s == "" {
		return s
	}
	r.mu.Lock()
	vals := make([]string, 0, len(r.values))
	for v := range r.values {
		if strings.Contains(s, v) {
			vals = append(vals, v)
		}
	}
	r.mu.Unlock()
	// Longest first: a value inside another is not replaced half-way.
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	for _, v := range vals {
		s = strings.ReplaceAll(s, v, redactedMarker)
	}
	return s
}
