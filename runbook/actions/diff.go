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

	"github.com/aymanbagabas/go-udiff"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// This file holds what the apply, annotate, label and patch actions show
// of an object: its YAML cleaned of server bookkeeping, Secret values
// redacted, and a unified diff of two versions of it.

// diffContext is how many unchanged lines a hunk shows around a change.
const diffContext = 3

// unifiedDiff is a unified diff of two texts, line by line, with
// diffContext lines of context and "--- oldName" / "+++ newName" headers;
// "" when they are equal. A missing final newline is not marked: the texts
// compared here are YAML documents, which end with one.
func unifiedDiff(oldName, newName, a, b string) string {
	if a == b {
		return ""
	}
	if len(a)+len(b) > diffInputLimit {
		// Too large to search for a readable diff (a huge ConfigMap):
		// say so rather than spend the time and memory.
		return fmt.Sprintf("--- %s\n+++ %s\n@@ not diffed: %d → %d lines, %d → %d bytes (over %d KiB) @@\n", oldName, newName,
			lineCount(a), lineCount(b), len(a), len(b), diffInputLimit>>10)
	}
	a, b = withFinalNewline(a), withFinalNewline(b)
	d, err := udiff.ToUnified(oldName, newName, a, udiff.Lines(a, b), diffContext)
	if err != nil { // udiff's own edits apply to its input: not expected
		return fmt.Sprintf("--- %s\n+++ %s\n@@ not diffed: %v @@\n", oldName, newName, err)
	}
	return d
}

// withFinalNewline ends a non-empty s with a newline, so that a missing
// one is no change.
func withFinalNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

// lineCount is how many lines s has ("" has none).
func lineCount(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(strings.TrimSuffix(s, "\n"), "\n") + 1
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
