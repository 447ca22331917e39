package probes

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

// StatefulSets and DaemonSets roll out by kubectl's rules too, seen through
// the shared informer on the real API server: in progress, then complete
// once the controller's status says so.
func TestK8sWorkloadStatefulSetAndDaemonSet(t *testing.T) {
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	objs := cp.CreateYAML(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: postgres, namespace: %[1]s}
spec:
  replicas: 2
  serviceName: postgres
  selector: {matchLabels: {app: postgres}}
  template:
    metadata: {labels: {app: postgres}}
    spec: {containers: [{name: main, image: "registry.example/postgres:16"}]}
status: {observedGeneration: 1, replicas: 2, readyReplicas: 1, currentReplicas: 1, updatedReplicas: 1,
         currentRevision: postgres-1, updateRevision: postgres-2}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-agent, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: node-agent}}
  template:
    metadata: {labels: {app: node-agent}}
    spec: {containers: [{name: main, image: "registry.example/agent:1"}]}
status: {observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, numberMisscheduled: 0,
         updatedNumberScheduled: 2, numberReady: 3, numberAvailable: 3}
`, ns))
	env, _ := kubeEnv(t, cp.Config, ns)
	tests := []struct {
		resource, name string
		obj            int
		progressing    string
		done           map[string]any
		complete       string
	}{
		{resource: "statefulsets", name: "postgres", obj: 0, progressing: "waiting for 1 pods to be ready",
			done: map[string]any{"observedGeneration": int64(1), "replicas": int64(2), "readyReplicas": int64(2), "currentReplicas": int64(2),
				"updatedReplicas": int64(2), "availableReplicas": int64(2), "currentRevision": "postgres-2", "updateRevision": "postgres-2"},
			// The API server defaults partition to 0, and kubectl then reports a
			// partitioned roll out even so; the probe says what kubectl says.
			complete: "partitioned roll out complete: 2 new pods have been updated"},
		{resource: "ds", name: "node-agent", obj: 1, progressing: "2 out of 3 new pods have been updated",
			done: map[string]any{"observedGeneration": int64(1), "desiredNumberScheduled": int64(3), "currentNumberScheduled": int64(3),
				"numberMisscheduled": int64(0), "updatedNumberScheduled": int64(3), "numberReady": int64(3), "numberAvailable": int64(3)},
			complete: "successfully rolled out"},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			p, rules := build(t, env, &WorkloadSpec{Resource: tt.resource, Names: []string{tt.name}})
			res := observe(t, p, rules)
			if res.Status != StatusPending || len(res.Items) != 1 || !strings.Contains(res.Items[0].Message, tt.progressing) {
				t.Fatalf("in progress = %s %q, items %+v; want pending with %q", res.Status, res.Summary, res.Items, tt.progressing)
			}
			if _, err := cp.SetStatus(context.Background(), objs[tt.obj], tt.done); err != nil {
				t.Fatal(err)
			}
			res = waitResult(t, p, rules, 30*time.Second, tt.resource+" rolled out", statusIs(StatusPass))
			if !strings.Contains(res.Items[0].Message, tt.complete) || !strings.Contains(res.Summary, "1/1 ready") {
				t.Errorf("complete = %q, items %+v; want %q", res.Summary, res.Items, tt.complete)
			}
		})
	}
}
