// Package distload runs one `cockpit load` test across the pods of an
// Indexed Job: the coordinator's side of a distributed run, and the control
// protocol its workers (`cockpit load-worker`) read.
//
// A run is five objects in one namespace, all labelled with the run's name
// (LabelRun): a ConfigMap that holds the test's arguments and is the run's
// control channel (the start instant, pause, rate, stop, abort), a
// ServiceAccount, a Role that may only get and watch that one ConfigMap
// (resourceNames), its RoleBinding, and the Indexed Job whose pods run
// `cockpit load-worker`. The ServiceAccount, Role, RoleBinding and Job are
// owned by the ConfigMap, so deleting it cascades; the coordinator still
// deletes each explicitly when the run ends and checks that nothing with
// the run's label is left.
//
// The workers report on their standard output (loader.WriteWorkerLine);
// the coordinator follows every pod's log through the API server, feeds
// the lines to a loader.WorkerMerger and publishes merged snapshots. The
// package never decides an exit code or prints: the command does.
package distload
