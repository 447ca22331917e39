package runbook

import (
	"os"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }
