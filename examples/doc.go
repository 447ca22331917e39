// Package examples holds the example runbooks: gravl-go-live.yaml, the
// seed report's go-live for a real cluster, and demo.yaml, the same go-live
// as `cockpit demo` runs it against its sandbox (embedded here).
//
// It holds data only and imports nothing but embed; cmd/cockpit imports it.
package examples
