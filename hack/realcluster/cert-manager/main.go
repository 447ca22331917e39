// Command cert-manager-controller runs cert-manager's own clusterissuers
// controller, with its SelfSigned and CA issuers, for the real-cluster rig.
//
// Only the library module github.com/cert-manager/cert-manager is served by
// the Go module proxy; the module holding cert-manager's controller binary
// (cmd/controller) is not. This is the wiring that binary's app package does,
// from the library's published packages and nothing else: the controller
// registry (controller.Known, filled by the clusterissuers package's init),
// the issuer registry (filled by the selfsigned and ca packages' inits),
// controller.NewContextFactory for the clients and shared informers, then the
// informers started and the controller run. No controller logic is here.
// There is no leader election (one replica, on a test rig), no webhook, no
// metrics or health server, and no other controller.
//
// Usage:
//
//	cert-manager-controller --kubeconfig FILE --cluster-resource-namespace NS [-v N]
//
// It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// The issuers the clusterissuers controller can set up: each registers
	// itself with pkg/issuer in its init.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file of the cluster (required)")
	crNamespace := flag.String("cluster-resource-namespace", "cert-manager",
		"namespace of the Secrets that ClusterIssuers refer to (cert-manager's own flag)")
	workers := flag.Int("workers", 1, "worker goroutines of the controller")
	version := flag.Bool("version", false, "print the cert-manager version built in and exit")
	klog.InitFlags(flag.CommandLine) // -v and the other klog flags, which cert-manager logs through
	flag.Parse()
	if *version {
		fmt.Println(certManagerVersion())
		return
	}
	if *kubeconfig == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: cert-manager-controller --kubeconfig FILE [--cluster-resource-namespace NS] [-v N]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *kubeconfig, *crNamespace, *workers)
	klog.Flush()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-controller:", err)
		os.Exit(1)
	}
}

// run builds cert-manager's controller context, constructs the registered
// clusterissuers controller, starts the shared informers it asked for and
// runs it until ctx ends.
func run(ctx context.Context, kubeconfig, crNamespace string, workers int) error {
	log := logf.Log.WithName("cert-manager-controller")
	ctx = logf.NewContext(ctx, log)
	build, ok := controller.Known()[clusterissuers.ControllerName]
	if !ok {
		return fmt.Errorf("controller %q is not registered", clusterissuers.ControllerName)
	}
	opts := controller.ContextOptions{
		Kubeconfig: kubeconfig,
		// cert-manager's defaults for its --kube-api-qps and --kube-api-burst.
		KubernetesAPIQPS:   20,
		KubernetesAPIBurst: 50,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace: crNamespace,
		},
	}
	factory, err := controller.NewContextFactory(ctx, opts)
	if err != nil {
		return fmt.Errorf("controller context: %w", err)
	}
	ctrl, err := build(factory)
	if err != nil {
		return fmt.Errorf("construct %s: %w", clusterissuers.ControllerName, err)
	}
	// Every Context built by the factory shares its informer factories;
	// start them after the controller has asked for its informers, as
	// cert-manager's own binary does.
	cctx, err := factory.Build()
	if err != nil {
		return fmt.Errorf("controller context: %w", err)
	}
	cctx.KubeSharedInformerFactory.Start(ctx.Done())
	cctx.SharedInformerFactory.Start(ctx.Done())
	log.Info("starting", "controller", clusterissuers.ControllerName, "version", certManagerVersion(),
		"clusterResourceNamespace", crNamespace)
	if err := ctrl.Run(workers, ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", clusterissuers.ControllerName, err)
	}
	return nil
}

// certManagerVersion is the version of the cert-manager module built in.
func certManagerVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/cert-manager/cert-manager" {
				return d.Version
			}
		}
	}
	return "unknown"
}
