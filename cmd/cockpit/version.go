package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

// clientVersion is the cockpit binary's own version.
type clientVersion struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// serverVersion is what the cluster's API server reports.
type serverVersion struct {
	GitVersion string `json:"gitVersion"`
	Platform   string `json:"platform"`
	Context    string `json:"context"`
	Host       string `json:"host"`
}

type versionReport struct {
	Client clientVersion  `json:"client"`
	Server *serverVersion `json:"server,omitempty"`
}

func currentClientVersion() clientVersion {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	return clientVersion{
		Version:   v,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

func newVersionCmd(s streams, opts *globalOptions) *cobra.Command {
	var (
		clientOnly bool
		output     string
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the cockpit version and, like kubectl, the cluster's",
		Long: `Print the cockpit version. Unless --client is given, also ask the API server of
the current kubeconfig context (or --kubeconfig/--context) for its version.
Without any kubeconfig the server part is left out.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return flagError(cmd, fmt.Errorf("--output: want text or json, got %q", output))
			}
			rep := versionReport{Client: currentClientVersion()}
			var serverErr error
			if !clientOnly {
				rep.Server, serverErr = fetchServerVersion(opts.kube, timeout)
				if serverErr != nil && errors.Is(serverErr, errNoKubeconfig) {
					serverErr = nil // nothing configured: the client version is the answer
				}
			}
			if err := writeVersion(s, output, rep); err != nil {
				return err
			}
			return serverErr
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print only the cockpit's own version")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().DurationVar(&timeout, "request-timeout", 5*time.Second, "how long to wait for the API server")
	return cmd
}

var errNoKubeconfig = errors.New("no kubeconfig")

func fetchServerVersion(kf kubeFlags, timeout time.Duration) (*serverVersion, error) {
	cfg, ctxName, err := kf.restConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			if kf.kubeconfig == "" && kf.context == "" {
				return nil, errNoKubeconfig
			}
			err = fmt.Errorf("kubeconfig: %w", err)
		}
		return nil, invalidInput(err) // restConfig's other errors name the kubeconfig

	}
	cfg.Timeout = timeout
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", ctxName, err)
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("context %q (%s): server version: %w", ctxName, cfg.Host, err)
	}
	return &serverVersion{GitVersion: info.GitVersion, Platform: info.Platform, Context: ctxName, Host: cfg.Host}, nil
}

func writeVersion(s streams, output string, rep versionReport) error {
	if output == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	c := rep.Client
	if _, err := fmt.Fprintf(s.out, "Client: cockpit %s (%s, %s)\n", c.Version, c.GoVersion, c.Platform); err != nil {
		return err
	}
	if sv := rep.Server; sv != nil {
		if _, err := fmt.Fprintf(s.out, "Server: %s (%s) — context %q at %s\n", sv.GitVersion, sv.Platform, sv.Context, sv.Host); err != nil {
			return err
		}
	}
	return nil
}
