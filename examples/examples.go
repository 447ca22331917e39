// Package examples holds the example runbooks: gravl-go-live.yaml, the
// seed report's go-live for a real cluster, and demo.yaml, the same go-live
// as `cockpit demo` runs it against its sandbox (embedded here).
package examples

import _ "embed"

// Demo is demo.yaml: the runbook `cockpit demo` opens. Its vars are the
// sandbox's addresses, filled in at start.
//
//go:embed demo.yaml
var Demo []byte
