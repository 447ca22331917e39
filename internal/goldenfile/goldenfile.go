package goldenfile

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

func init() {
	// charmbracelet's golden package (through teatest) registers -update
	// too, and initialises first (its import path sorts first): both then
	// read the one flag.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files")
	}
}

// Updating reports whether -update was given.
func Updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// Check compares got with the golden file at path. Under -update it first
// writes got there (making the file's directory), so that the change shows
// in the file's diff.
func Check[T ~string | ~[]byte](t testing.TB, path string, got T) {
	t.Helper()
	if Updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
