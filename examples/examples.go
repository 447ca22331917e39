package examples

import _ "embed"

// Demo is demo.yaml: the runbook `cockpit demo` opens. Its vars are the
// sandbox's addresses, filled in at start.
//
//go:embed demo.yaml
var Demo []byte
