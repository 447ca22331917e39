// Package realcluster gives tests a real single-node Kubernetes cluster,
// built from source by hack/realcluster/build.sh: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd with runc and the CNI
// bridge plugin, the kubelet, kube-proxy (iptables), CoreDNS as a pod and
// kube-router enforcing NetworkPolicies. Images come from tarballs built
// locally (no registry is reachable): pause, CoreDNS, busybox:1.37, the
// gravl app (the reference HTTP target), cockpit itself and the
// sealed-secrets controller. The rig's bin/ also holds
// [CertManagerController], cert-manager's own clusterissuers controller
// built from its library module, which a test runs as a host process.
//
// A test binary shares one cluster, started on first use:
//
//	func TestMain(m *testing.M) { os.Exit(realcluster.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		c := realcluster.Start(t)
//		ns := c.Namespace(t)
//		... c.Typed, c.Config, c.Kubeconfig ...
//	}
//
// The ports are fixed (6443, 10250, 23790, ...), so there is one cluster per
// machine: a lock file makes a second test binary wait for the first one's
// cluster to stop. The start needs root.
//
// # Network safety
//
// Nothing leaves the machine. The components use loopback and the node IP
// (10.89.255.1, kept on lo); pods get addresses from 10.88.0.0/24 on the
// rig's bridge and routes only to the pod range, the Service range and the
// node IP — no default route. Before any component starts, the network
// guard routes the pod and Service ranges to the bridge and installs
// iptables chains that drop anything from the pod range not bound for a
// pod, Service or node address ([GuardChain]), and anything of those
// ranges leaving through another interface ([EgressChain]). Registries are
// configured as 127.0.0.1:1, so an accidental pull fails locally.
//
// # Clean-up
//
// [Main] stops the cluster after the package's tests: pods are deleted
// through the API server (so CNI releases them), then every process is
// stopped by its PID (kubelet, containerd and its shims, kube-proxy,
// kube-router, then the control plane), and the host is put back: mounts
// under the state dir, the bridge, routes, the node IP, the guard's and the
// components' iptables chains, ipsets, the kubelet's cgroups, the sysctls
// the components change, the host paths they hard-code, the state dir. It
// then checks that nothing is left and fails the run if anything is. A
// crashed run's leftovers (its pid files name its processes) are removed at
// the next start.
//
// When the binaries are missing Start skips the test with the command that
// builds them, unless the run requires the rig (CI=true,
// COCKPIT_REQUIRE_CONTROLPLANE=1 or COCKPIT_REALCLUSTER_BIN set): then it
// fails. This package is test plumbing; it must not be imported by
// non-test code.
package realcluster
