package kube

import (
	"strings"
	"testing"
)

func TestParseWorkloadRef(t *testing.T) {
	tests := []struct {
		in      string
		def     WorkloadKind
		want    WorkloadRef
		wantErr string
	}{
		// Every spelling of a type either parser took before.
		{in: "deployment/api", want: WorkloadRef{Deployment, "api"}},
		{in: "deployments/api", want: WorkloadRef{Deployment, "api"}},
		{in: "deploy/api", want: WorkloadRef{Deployment, "api"}},
		{in: "Deployment/api", want: WorkloadRef{Deployment, "api"}},
		{in: "deployment.apps/api", want: WorkloadRef{Deployment, "api"}},
		{in: "deployments.apps/web", want: WorkloadRef{Deployment, "web"}},
		{in: "statefulset/db", want: WorkloadRef{StatefulSet, "db"}},
		{in: "statefulsets/db", want: WorkloadRef{StatefulSet, "db"}},
		{in: "sts/db", want: WorkloadRef{StatefulSet, "db"}},
		{in: "statefulsets.apps/db", want: WorkloadRef{StatefulSet, "db"}},
		{in: "daemonset/agent", want: WorkloadRef{DaemonSet, "agent"}},
		{in: "daemonsets/agent", want: WorkloadRef{DaemonSet, "agent"}},
		{in: "ds/agent", want: WorkloadRef{DaemonSet, "agent"}},
		{in: "daemonset.apps/agent", want: WorkloadRef{DaemonSet, "agent"}},
		// A bare name is of the default kind; a type overrides it.
		{in: "backend", def: Deployment, want: WorkloadRef{Deployment, "backend"}},
		{in: "postgres", def: StatefulSet, want: WorkloadRef{StatefulSet, "postgres"}},
		{in: "deploy/api", def: DaemonSet, want: WorkloadRef{Deployment, "api"}},
		{in: "cert-manager.webhook", def: Deployment, want: WorkloadRef{Deployment, "cert-manager.webhook"}},
		// Errors.
		{in: "api", wantErr: `"api": want TYPE/NAME, like deployment/api, statefulset/db or daemonset/agent`},
		{in: "pod/x", wantErr: `"pod/x": "pod" is not a workload type: want deployment, statefulset or daemonset (deploy, sts, ds)`},
		{in: "job/x", def: Deployment, wantErr: `"job/x": "job" is not a workload type`},
		{in: "deploy/", wantErr: `"deploy/": empty name`},
		{in: "", def: Deployment, wantErr: `"": empty name`},
		{in: "deploy/API", wantErr: `"deploy/API": invalid name: a lowercase RFC 1123 subdomain`},
		{in: "deploy/a/b", wantErr: `"deploy/a/b": invalid name`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseWorkloadRef(tt.in, tt.def)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("ParseWorkloadRef(%q) = %v, %v; want error %q…", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseWorkloadRef(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestWorkloadKind(t *testing.T) {
	tests := []struct {
		kind                                  WorkloadKind
		str, singular, resource, history, gvr string
	}{
		{Deployment, "Deployment", "deployment", "deployments.apps", "replicasets", "apps/v1, Resource=deployments"},
		{StatefulSet, "StatefulSet", "statefulset", "statefulsets.apps", "controllerrevisions", "apps/v1, Resource=statefulsets"},
		{DaemonSet, "DaemonSet", "daemonset", "daemonsets.apps", "controllerrevisions", "apps/v1, Resource=daemonsets"},
	}
	for _, tt := range tests {
		if got := []string{tt.kind.String(), tt.kind.Singular(), tt.kind.Resource(), tt.kind.History(), tt.kind.GVR().String()}; strings.Join(got, "|") != strings.Join([]string{tt.str, tt.singular, tt.resource, tt.history, tt.gvr}, "|") {
			t.Errorf("%d: got %q", tt.kind, got)
		}
		if r := (WorkloadRef{tt.kind, "x"}).String(); r != tt.singular+"/x" {
			t.Errorf("ref = %q", r)
		}
	}
	if got := WorkloadKind(9).String(); got != "WorkloadKind(9)" {
		t.Errorf("unknown kind = %q", got)
	}
}
