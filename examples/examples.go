package examples

import "embed"

// Demo is demo.yaml: the runbook `cockpit demo` opens. Its vars are the
// sandbox's addresses, filled in at start.
//
//go:embed demo.yaml
var Demo []byte

// DemoFiles holds the files demo.yaml's actions read, under demo/: the
// gravl release its deploy phase applies.
//
//go:embed demo
var DemoFiles embed.FS
