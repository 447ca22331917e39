// Package controlplane gives tests a real Kubernetes control plane: a
// kube-apiserver and etcd built from the Go module proxy by
// hack/envtest/build.sh, started through controller-runtime's envtest.
//
// A test package shares one control plane for its whole run:
//
//	func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		cp := controlplane.Start(t)
//		ns := cp.Namespace(t)
//		...
//	}
//
// The API server has no controllers (no kubelet, no controller-manager), so
// tests write the status a controller would, through the status subresource
// ([ControlPlane.SetStatus]); that status is what Cockpit's probes read.
// The cert-manager and sealed-secrets CRDs in testdata/crds are installed at
// start.
//
// When the binaries are missing, Start skips the test with the command that
// builds them — unless the run requires the control plane (CI=true,
// COCKPIT_REQUIRE_CONTROLPLANE=1 or KUBEBUILDER_ASSETS set), in which case
// it fails: CI never passes by skipping Kubernetes tests.
//
// This package is test plumbing; it must not be imported by non-test code.
package controlplane
