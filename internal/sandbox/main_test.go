package sandbox

import (
	"os"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

// TestMain stops the envtest control plane the conformance test starts.
func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }
