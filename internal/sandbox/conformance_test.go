package sandbox

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

// The simulated cluster's server-side apply against a real API server's
// (envtest): the same manifests, applied by the same field managers in the
// same order — a dry run, the apply, the same apply again, another
// manager's conflicting apply (dry run and real, without force), that
// manager forcing it, and the first manager's apply conflicting back —
// give the same objects (metadata, spec, defaults, managedFields: manager,
// operation and the fields each owns) and the same errors (HTTP code,
// reason, message and causes).
//
// Normalised, because they legitimately differ between two stores: uid,
// resourceVersion, creationTimestamp, managedFields' times and the
// namespace's name (the test's own on each side). Their presence is
// compared.
func TestServerSideApplyMatchesTheAPIServer(t *testing.T) {
	cp := controlplane.Start(t)
	sim := newCluster(t, ClusterOptions{Seed: 5})
	tests := []struct {
		name     string
		resource schema.GroupVersionResource
		object   string // applied by cockpit; NS is the namespace
		other    string // platform-team's conflicting apply
	}{
		{
			name:     "deployment",
			resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
			object: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"NS","labels":{"app":"web"}},
"spec":{"replicas":2,"progressDeadlineSeconds":20,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"ghcr.io/gravl-app/backend:1.9.0","ports":[{"name":"http","containerPort":3000}],
"readinessProbe":{"httpGet":{"path":"/health","port":3000}},"env":[{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}]}]}}}}`,
			other: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"NS"},
"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"web","image":"ghcr.io/gravl-app/backend:1.9.1"}]}}}}`,
		},
		{
			name:     "configmap",
			resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
			object:   `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"gravl","namespace":"NS"},"data":{"LOG_LEVEL":"info","REGION":"eu"}}`,
			other:    `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"gravl","namespace":"NS"},"data":{"LOG_LEVEL":"debug"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			real := applySequence(t, cp.Dynamic, cp.Namespace(t), tt.resource, tt.object, tt.other)
			simulated := applySequence(t, sim.Dynamic, "gravl-prod", tt.resource, tt.object, tt.other)
			if len(real) != len(simulated) {
				t.Fatalf("%d steps on the API server, %d on the simulated cluster", len(real), len(simulated))
			}
			for i := range real {
				if !reflect.DeepEqual(real[i], simulated[i]) {
					t.Errorf("step %q differs (-API server +simulated cluster):\n%s", real[i].Step, diff.Diff(real[i], simulated[i]))
				}
			}
			// The sequence did what it says (so equal results are not
			// equally empty ones).
			for _, st := range real {
				switch st.Step {
				case "dry run", "apply", "apply again", "platform-team's change, dry run", "forced by platform-team":
					if st.Object == nil {
						t.Errorf("%s: no object: %+v", st.Step, st.Error)
					}
				case "conflict, dry run", "conflict", "cockpit conflicts back":
					if st.Error == nil || st.Error.Code != 409 || len(st.Error.Causes) == 0 {
						t.Errorf("%s: want a 409 with causes, got %+v", st.Step, st.Error)
					}
				case "after the dry run":
					if st.Error == nil || st.Error.Code != 404 {
						t.Errorf("%s: want 404, got %+v", st.Step, st.Error)
					}
				}
			}
		})
	}
}

// step is one request of the sequence and what came back, normalised.
type step struct {
	Step   string
	Object map[string]any
	Error  *apiError
}

type apiError struct {
	Code    int32
	Reason  metav1.StatusReason
	Message string
	Causes  []metav1.StatusCause
}

func applySequence(t *testing.T, dyn dynamic.Interface, ns string, gvr schema.GroupVersionResource, object, other string) []step {
	t.Helper()
	ri := dyn.Resource(gvr).Namespace(ns)
	ctx := t.Context()
	doc := func(s string) []byte { return []byte(strings.ReplaceAll(s, `"NS"`, `"`+ns+`"`)) }
	name := objectName(t, object)
	apply := func(what, manager, manifest string, force, dryRun bool) step {
		opts := metav1.PatchOptions{FieldManager: manager, Force: &force}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		u, err := ri.Patch(ctx, name, types.ApplyPatchType, doc(manifest), opts)
		return normalise(t, what, ns, u, err)
	}
	get := func(what string) step {
		u, err := ri.Get(ctx, name, metav1.GetOptions{})
		return normalise(t, what, ns, u, err)
	}
	return []step{
		apply("dry run", "cockpit", object, false, true),
		get("after the dry run"),
		apply("apply", "cockpit", object, false, false),
		apply("apply again", "cockpit", object, false, false),
		apply("platform-team's change, dry run", "platform-team", other, true, true),
		apply("conflict, dry run", "platform-team", other, false, true),
		apply("conflict", "platform-team", other, false, false),
		get("after the conflicts"),
		apply("forced by platform-team", "platform-team", other, true, false),
		apply("cockpit conflicts back", "cockpit", object, false, false),
		get("at the end"),
	}
}

func objectName(t *testing.T, manifest string) string {
	t.Helper()
	var u unstructured.Unstructured
	if err := json.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u.GetName()
}

// normalise keeps what both stores must agree on.
func normalise(t *testing.T, what, ns string, u *unstructured.Unstructured, err error) step {
	t.Helper()
	st := step{Step: what}
	if err != nil {
		var se apierrors.APIStatus
		if !errors.As(err, &se) {
			t.Fatalf("%s: not an API error: %v", what, err)
		}
		s := se.Status()
		st.Error = &apiError{Code: s.Code, Reason: s.Reason, Message: s.Message}
		if s.Details != nil {
			st.Error.Causes = s.Details.Causes
		}
		return st
	}
	obj := u.DeepCopy()
	present := func(v string) string {
		if v == "" {
			return "<missing>"
		}
		return "<set>"
	}
	obj.SetUID(types.UID(present(string(obj.GetUID()))))
	obj.SetResourceVersion(present(obj.GetResourceVersion()))
	if obj.GetNamespace() == ns {
		obj.SetNamespace("NS")
	}
	ts := obj.GetCreationTimestamp()
	unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	if !ts.IsZero() {
		_ = unstructured.SetNestedField(obj.Object, "<set>", "metadata", "creationTimestamp")
	}
	mf := obj.GetManagedFields()
	for i := range mf {
		if mf[i].Time != nil {
			mf[i].Time = &metav1.Time{}
		}
	}
	obj.SetManagedFields(mf)
	// Round-trip through YAML so both sides hold the same JSON types.
	b, err := yaml.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	st.Object = m
	return st
}
