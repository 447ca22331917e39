package loader

import "testing"

func TestFieldErrorFieldAndIndex(t *testing.T) {
	for _, tt := range []struct {
		path  string
		field string
		index int
	}{
		{"executor.vus", "executor.vus", -1},
		{"requests[2].url", "requests.url", 2},
		{`requests[0].headers["X-Token"]`, "requests.headers", 0},
		{"executor.stages[3].target", "executor.stages.target", 3},
		{"thresholds[1]", "thresholds", 1},
		{`requests[1].checks.json[0].path`, "requests.checks.json.path", 1},
	} {
		fe := &FieldError{Path: tt.path}
		if got := fe.Field(); got != tt.field {
			t.Errorf("Field(%q) = %q, want %q", tt.path, got, tt.field)
		}
		if got := fe.Index(); got != tt.index {
			t.Errorf("Index(%q) = %d, want %d", tt.path, got, tt.index)
		}
	}
}
