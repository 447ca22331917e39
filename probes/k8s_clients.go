package probes

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// The accessors below let runbook actions (which change the cluster) use
// the clients and the discovery-backed mapper of the Cluster the probes
// watch through, so a runbook talks to one API server one way.

// Typed returns the cluster's typed clientset.
func (c *Cluster) Typed() kubernetes.Interface { return c.typed }

// Dynamic returns the cluster's dynamic client.
func (c *Cluster) Dynamic() dynamic.Interface { return c.dynamic }

// RESTMapper maps kinds to resources through discovery (cached; reset
// once on a miss, for a CRD installed after the first look).
func (c *Cluster) RESTMapper() meta.RESTMapper { return resettingMapper{c} }

// Resource resolves a resource argument as kubectl takes it ("deploy",
// "deployments.apps", "clusterissuers.cert-manager.io") to its resource
// type, and whether it is namespaced.
func (c *Cluster) Resource(arg string) (gvr schema.GroupVersionResource, namespaced bool, err error) {
	r, err := c.resolve(arg)
	return r.gvr, r.namespaced, err
}

// resettingMapper is the cluster's mapper, retried once after a discovery
// reset when a kind is not found.
type resettingMapper struct{ c *Cluster }

func (m resettingMapper) retry(err error) bool {
	if meta.IsNoMatchError(err) {
		m.c.mapper.Reset()
		return true
	}
	return false
}

func (m resettingMapper) KindFor(r schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	k, err := m.c.mapper.KindFor(r)
	if m.retry(err) {
		k, err = m.c.mapper.KindFor(r)
	}
	return k, err
}

func (m resettingMapper) KindsFor(r schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	k, err := m.c.mapper.KindsFor(r)
	if m.retry(err) {
		k, err = m.c.mapper.KindsFor(r)
	}
	return k, err
}

func (m resettingMapper) ResourceFor(r schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	k, err := m.c.mapper.ResourceFor(r)
	if m.retry(err) {
		k, err = m.c.mapper.ResourceFor(r)
	}
	return k, err
}

func (m resettingMapper) ResourcesFor(r schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	k, err := m.c.mapper.ResourcesFor(r)
	if m.retry(err) {
		k, err = m.c.mapper.ResourcesFor(r)
	}
	return k, err
}

func (m resettingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	k, err := m.c.mapper.RESTMapping(gk, versions...)
	if m.retry(err) {
		k, err = m.c.mapper.RESTMapping(gk, versions...)
	}
	return k, err
}

func (m resettingMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	k, err := m.c.mapper.RESTMappings(gk, versions...)
	if m.retry(err) {
		k, err = m.c.mapper.RESTMappings(gk, versions...)
	}
	return k, err
}

func (m resettingMapper) ResourceSingularizer(resource string) (string, error) {
	return m.c.mapper.ResourceSingularizer(resource)
}
