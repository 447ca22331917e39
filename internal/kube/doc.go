// Package kube is the Kubernetes layer shared by the probes (which observe)
// and the runbook actions (which change the cluster): how a failed API call
// reads to an operator, how a kubeconfig context is found, how a workload
// is named ([ParseWorkloadRef]: kubectl's TYPE/NAME in all its spellings)
// and where its rollout stands ([RolloutStatus]: kubectl's status viewers,
// a pure function of the object).
//
// [Err] is the one mapper of API errors. Only an authorization denial (the
// RBAC authorizer's "User … cannot <verb> resource …") becomes a
// [*ForbiddenError] naming the missing permission; every other refusal —
// an admission plugin's 403 (a missing ServiceAccount, PodSecurity, a
// ResourceQuota, a ValidatingAdmissionPolicy, a webhook), a 409, a 422, a
// 5xx — keeps the API server's own message in an [*Error], so that a lead
// in a go-live window is never sent to fix RBAC that is already right.
package kube
