package runbook

import "testing"

// A credential header quoted as HTTP writes it loses its value to the end
// of the line; the JSON form and the schemes are redacted as before.
func TestRedactorHeaderLines(t *testing.T) {
	r := NewRedactor(nil)
	for _, tc := range []struct{ in, want string }{
		{"sent Cookie: sessionid=abc123; theme=dark\nnext line", "sent Cookie: [REDACTED]\nnext line"},
		{"X-Api-Key:k-123456", "X-Api-Key:[REDACTED]"},
		{"Authorization: Bearer abc.def.ghi", "Authorization: [REDACTED]"},
		{`{"Authorization":"Basic dXNlcjpwYXNz"}`, `{"Authorization":"[REDACTED]"}`},
		{"token Bearer abcdefgh in text", "token Bearer [REDACTED] in text"},
		{"no credentials here: cookies are fine", "no credentials here: cookies are fine"},
	} {
		if got := r.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A header in a runbook's YAML keeps the YAML's shape.
func TestRedactorHeaderLinesKeepYAML(t *testing.T) {
	r := NewRedactor([]string{"s3cret"})
	for _, tc := range []struct{ in, want string }{
		{`headers: {Authorization: "Bearer ${env:T}"}`, `headers: {Authorization: "Bearer ${env:T}"}`},
		{`headers: {Cookie: a=s3cret, X: y}`, `headers: {Cookie: [REDACTED], X: y}`},
	} {
		if got := r.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A field path naming a header is not a header.
func TestRedactorHeaderLinesFieldPath(t *testing.T) {
	in := "phases[0].steps[0].probe.headers.Authorization: environment variable T is not set"
	if got := NewRedactor(nil).String(in); got != in {
		t.Errorf("String(%q) = %q", in, got)
	}
}
