package kube

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// WorkloadKind is a kind of workload that rolls out: a Deployment, a
// StatefulSet or a DaemonSet. The zero value is no kind.
type WorkloadKind uint8

// The workload kinds.
const (
	NoWorkload WorkloadKind = iota
	Deployment
	StatefulSet
	DaemonSet
)

// WorkloadKinds are the workload kinds, in the order probes read them.
var WorkloadKinds = []WorkloadKind{Deployment, StatefulSet, DaemonSet}

var workloadKindInfo = [...]struct {
	kind, resource, history string
}{
	NoWorkload:  {kind: "NoWorkload"},
	Deployment:  {kind: "Deployment", resource: "deployments", history: "replicasets"},
	StatefulSet: {kind: "StatefulSet", resource: "statefulsets", history: "controllerrevisions"},
	DaemonSet:   {kind: "DaemonSet", resource: "daemonsets", history: "controllerrevisions"},
}

func (k WorkloadKind) info() (kind, resource, history string) {
	if int(k) >= len(workloadKindInfo) {
		return fmt.Sprintf("WorkloadKind(%d)", k), "", ""
	}
	i := workloadKindInfo[k]
	return i.kind, i.resource, i.history
}

// String is the kind: Deployment.
func (k WorkloadKind) String() string { kind, _, _ := k.info(); return kind }

// Singular is the TYPE of kubectl's TYPE/NAME: deployment.
func (k WorkloadKind) Singular() string { return strings.ToLower(k.String()) }

// GVR is the kind's resource: apps/v1 deployments.
func (k WorkloadKind) GVR() schema.GroupVersionResource {
	_, res, _ := k.info()
	return appsv1.SchemeGroupVersion.WithResource(res)
}

// Resource is the resource as RBAC and errors name it: deployments.apps.
func (k WorkloadKind) Resource() string { return k.GVR().GroupResource().String() }

// History is the apps/v1 resource a workload's revisions live in:
// replicasets for a Deployment, controllerrevisions for the others.
func (k WorkloadKind) History() string { _, _, h := k.info(); return h }

// workloadKindNames are the workload kinds by every name kubectl takes:
// kind, plural and short name, each also qualified by the apps group.
var workloadKindNames = map[string]WorkloadKind{
	"deployment": Deployment, "deployments": Deployment, "deploy": Deployment,
	"deployment.apps": Deployment, "deployments.apps": Deployment, "deploy.apps": Deployment,
	"statefulset": StatefulSet, "statefulsets": StatefulSet, "sts": StatefulSet,
	"statefulset.apps": StatefulSet, "statefulsets.apps": StatefulSet, "sts.apps": StatefulSet,
	"daemonset": DaemonSet, "daemonsets": DaemonSet, "ds": DaemonSet,
	"daemonset.apps": DaemonSet, "daemonsets.apps": DaemonSet, "ds.apps": DaemonSet,
}

// ParseWorkloadKind maps a workload type as kubectl takes it, in any case
// — deployment, deployments, deploy, deployment.apps, deployments.apps
// (likewise statefulset and sts, daemonset and ds) — to its kind.
func ParseWorkloadKind(s string) (WorkloadKind, bool) {
	k, ok := workloadKindNames[strings.ToLower(s)]
	return k, ok
}

// WorkloadRef names one workload of a namespace.
type WorkloadRef struct {
	Kind WorkloadKind
	Name string
}

// String is kubectl's TYPE/NAME: deployment/api.
func (r WorkloadRef) String() string { return r.Kind.Singular() + "/" + r.Name }

// ParseWorkloadRef parses kubectl's TYPE/NAME (deployment/api, sts/db,
// ds/agent, deployments.apps/web: any spelling [ParseWorkloadKind]
// takes), or a bare NAME, which is of kind def — and an error when def is
// NoWorkload. The name must be a DNS subdomain, as every workload's is.
func ParseWorkloadRef(s string, def WorkloadKind) (WorkloadRef, error) {
	typ, name, typed := strings.Cut(s, "/")
	if !typed {
		if def == NoWorkload {
			return WorkloadRef{}, fmt.Errorf("%q: want TYPE/NAME, like deployment/api, statefulset/db or daemonset/agent", s)
		}
		name = s
	}
	kind := def
	if typed {
		var known bool
		if kind, known = ParseWorkloadKind(typ); !known {
			return WorkloadRef{}, fmt.Errorf("%q: %q is not a workload type: want deployment, statefulset or daemonset (deploy, sts, ds)", s, typ)
		}
	}
	if name == "" {
		return WorkloadRef{}, fmt.Errorf("%q: empty name", s)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return WorkloadRef{}, fmt.Errorf("%q: invalid name: %s", s, strings.Join(errs, "; "))
	}
	return WorkloadRef{Kind: kind, Name: name}, nil
}
