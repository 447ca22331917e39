package layering

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/cockpit-dev/cockpit"

// engines are the packages that must stay headless.
var engines = []string{"runbook", "probes", "loader"}

// uiPackage reports whether an import path belongs to the terminal UI: the
// project's tui package (or below it) or any Charm module.
func uiPackage(path string) bool {
	return path == module+"/tui" || strings.HasPrefix(path, module+"/tui/") ||
		strings.HasPrefix(path, "charm.land/") ||
		strings.HasPrefix(path, "github.com/charmbracelet/")
}

func TestUIPackage(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{path: module + "/tui", want: true},
		{path: module + "/tui/panes", want: true},
		{path: "charm.land/bubbletea/v2", want: true},
		{path: "charm.land/lipgloss/v2", want: true},
		{path: "github.com/charmbracelet/x/ansi", want: true},
		{path: module + "/tuition", want: false},
		{path: module + "/runbook", want: false},
		{path: "k8s.io/client-go/kubernetes", want: false},
		{path: "github.com/HdrHistogram/hdrhistogram-go", want: false},
	}
	for _, tt := range tests {
		if got := uiPackage(tt.path); got != tt.want {
			t.Errorf("uiPackage(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestEnginesAreHeadless lists every package below runbook, probes and
// loader with its transitive dependencies and fails on any UI package.
func TestEnginesAreHeadless(t *testing.T) {
	var patterns []string
	for _, e := range engines {
		patterns = append(patterns, module+"/"+e+"/...")
	}
	args := append([]string{"list", "-deps=false", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, patterns...)
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	seen := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := fields[0]
		seen[strings.SplitN(strings.TrimPrefix(pkg, module+"/"), "/", 2)[0]] = true
		for _, dep := range fields[1:] {
			if uiPackage(dep) {
				t.Errorf("%s depends on %s: engine packages must not import the terminal UI", pkg, dep)
			}
		}
	}
	for _, e := range engines {
		if !seen[e] {
			t.Errorf("go list found no package under %s/: the check would pass vacuously", e)
		}
	}
	if t.Failed() {
		t.Log("engine packages found:", slices.Sorted(maps.Keys(seen)))
	}
}

// TestEveryPackageHasDocGo: each package says in a doc.go what its room
// holds and what it must not import.
func TestEveryPackageHasDocGo(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{.Dir}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		if strings.HasPrefix(path, module+"/hack/") {
			continue // the tools modules are not part of the module
		}
		if _, err := os.Stat(filepath.Join(dir, "doc.go")); err != nil {
			t.Errorf("%s has no doc.go", path)
		}
	}
}
