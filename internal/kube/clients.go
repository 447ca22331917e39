package kube

import (
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Clients builds the two clients cockpit talks to an API server with from
// cfg: the typed one (discovery, access reviews, typed reads) and the
// dynamic one (every list and watch, built-in kinds included).
func Clients(cfg *rest.Config) (*kubernetes.Clientset, *dynamic.DynamicClient, error) {
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("typed client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("dynamic client: %w", err)
	}
	return typed, dyn, nil
}
