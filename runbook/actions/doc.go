// Package actions holds the runbook's action kinds: the steps that change
// something — server-side apply of manifests, rollouts (watch, restart,
// undo), annotate/label/patch, sealed secrets, in-cluster check pods,
// Alertmanager silences and local commands. Each kind previews what it
// would do (a server-side dry run, a diff) before it does it; the runbook
// engine decides when, in a run started with --allow-actions and after the
// operator's confirmation.
//
// It lives in the runbook room. It may import probes (for the shared
// Kubernetes clusters and result types), client-go and the standard
// library. It must never import runbook (which imports it), tui or any
// Charm module.
package actions
