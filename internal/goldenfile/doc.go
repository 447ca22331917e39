// Package goldenfile compares a test's output with a golden file, and
// rewrites the file instead when the test binary runs with -update: one
// helper for every package with golden files.
package goldenfile
