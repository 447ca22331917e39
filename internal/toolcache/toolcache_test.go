package toolcache

import (
	"path/filepath"
	"testing"
)

func TestDir(t *testing.T) {
	t.Setenv("TC_BIN", "")
	t.Setenv("TC_CACHE", "/cache")
	if got, want := Dir("TC_BIN", "TC_CACHE", "x", "v1"), filepath.Join("/cache", "v1"); got != want {
		t.Errorf("Dir = %q, want %q", got, want)
	}
	t.Setenv("TC_BIN", "/bin/here")
	if got := Dir("TC_BIN", "TC_CACHE", "x", "v1"); got != "/bin/here" {
		t.Errorf("Dir with the bin variable = %q", got)
	}
	t.Setenv("TC_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	t.Setenv("TC_BIN", "")
	if got, want := Dir("TC_BIN", "TC_CACHE", "x", "v1"), filepath.Join("/xdg", "cockpit", "x", "v1"); got != want {
		t.Errorf("Dir from the user cache = %q, want %q", got, want)
	}
}

func TestRequired(t *testing.T) {
	for _, tt := range []struct {
		ci, require, bin string
		want             bool
	}{
		{"", "", "", false},
		{"true", "", "", true},
		{"", "1", "", true},
		{"", "", "/bin", true},
	} {
		t.Setenv("CI", tt.ci)
		t.Setenv("COCKPIT_REQUIRE_CONTROLPLANE", tt.require)
		t.Setenv("TC_BIN", tt.bin)
		if got := Required("TC_BIN"); got != tt.want {
			t.Errorf("Required with CI=%q require=%q bin=%q = %v", tt.ci, tt.require, tt.bin, got)
		}
	}
}
