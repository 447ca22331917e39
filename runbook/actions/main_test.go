package actions

import (
	"os"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/probes"
)

// TestMain stops the harnesses the tests started: the envtest control
// plane, then the real cluster (checkpod_realcluster_test.go).
func TestMain(m *testing.M) {
	os.Exit(realcluster.Run(func() int { return controlplane.Main(m) }))
}

// testEnv starts (or reuses) the real control plane and returns it with a
// fresh namespace and an action Env whose clusters reach it as an admin,
// defaulting to that namespace. dir is where relative manifest paths are
// read from.
func testEnv(t *testing.T, dir string) (*controlplane.ControlPlane, string, Env) {
	t.Helper()
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	c, err := probes.NewClusterForConfig("envtest", cp.Config, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	env := Env{Dir: dir, Kube: func(string) (*probes.Cluster, error) { return c, nil }}
	return cp, ns, env
}
