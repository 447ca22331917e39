package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

func main() {
	// client-go logs through klog to stderr ("Couldn't get current server
	// API group list" while a cluster is away), which would draw over the
	// cockpit's screen and clutter a headless run's event log. Cockpit
	// reports what matters itself: a probe shows `error: unreachable`, a
	// command fails with the error.
	klog.SetLogger(logr.Discard())
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code. It is main
// without the process: tests call it directly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdin, stdout, stderr)
}

func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(streams{in: stdin, out: stdout, err: stderr})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	var v verdict
	if err != nil && !errors.As(err, &v) {
		fmt.Fprintf(stderr, "cockpit: %v\n", err)
	}
	return code
}
