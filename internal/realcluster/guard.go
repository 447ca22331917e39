package realcluster

import (
	"bufio"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// The network guard's chains, in the raw and mangle tables, named for the
// rig so its clean-up can find them.
const (
	// GuardChain (raw PREROUTING, before any NAT) drops every packet from the
	// pod range that is not bound for a pod, Service or node address.
	GuardChain = "COCKPIT-RC-GUARD"
	// EgressChain (mangle POSTROUTING, the last hop) drops every packet from
	// or to the pod range, or to the Service range, that would leave through
	// anything but the rig's bridge or lo. Its DROP counter must stay 0.
	EgressChain = "COCKPIT-RC-EGRESS"
	// Guard6Chain (ip6tables raw PREROUTING) drops all IPv6 arriving from the
	// rig's bridge: pods get IPv4 addresses only.
	Guard6Chain = "COCKPIT-RC-GUARD6"
)

// installGuard puts the network guard in place. It runs before any
// component starts, and fails the start if any step fails:
//
//  1. the rig's bridge exists, and the pod and Service ranges are routed to
//     it, so no packet for those ranges can follow the default route;
//  2. raw PREROUTING: packets from the pod range may only go to the pod
//     range, the Service range or the node IP (GuardChain);
//  3. mangle POSTROUTING: packets from or to the pod range, or to the
//     Service range, leave only through the bridge or lo (EgressChain);
//  4. no IPv6 from the bridge (Guard6Chain).
//
// Pods get no default route either (the CNI configuration routes only the
// pod and Service ranges and the node IP to the bridge), so the guard is the
// second line: it catches a pod that adds a route of its own.
func installGuard() error {
	steps := [][]string{
		{"ip", "link", "add", Bridge, "type", "bridge"},
		{"ip", "link", "set", Bridge, "up"},
		{"ip", "route", "replace", PodCIDR, "dev", Bridge},
		{"ip", "route", "replace", ServiceCIDR, "dev", Bridge},

		{"iptables", "-w", "-t", "raw", "-N", GuardChain},
		{"iptables", "-w", "-t", "raw", "-A", GuardChain, "-d", PodCIDR, "-j", "RETURN"},
		{"iptables", "-w", "-t", "raw", "-A", GuardChain, "-d", ServiceCIDR, "-j", "RETURN"},
		{"iptables", "-w", "-t", "raw", "-A", GuardChain, "-d", NodeIP + "/32", "-j", "RETURN"},
		{"iptables", "-w", "-t", "raw", "-A", GuardChain, "-j", "DROP"},
		{"iptables", "-w", "-t", "raw", "-I", "PREROUTING", "1", "-s", PodCIDR, "-j", GuardChain},

		{"iptables", "-w", "-t", "mangle", "-N", EgressChain},
		{"iptables", "-w", "-t", "mangle", "-A", EgressChain, "-o", Bridge, "-j", "RETURN"},
		{"iptables", "-w", "-t", "mangle", "-A", EgressChain, "-o", "lo", "-j", "RETURN"},
		{"iptables", "-w", "-t", "mangle", "-A", EgressChain, "-j", "DROP"},
		{"iptables", "-w", "-t", "mangle", "-I", "POSTROUTING", "1", "-s", PodCIDR, "-j", EgressChain},
		{"iptables", "-w", "-t", "mangle", "-I", "POSTROUTING", "1", "-d", PodCIDR, "-j", EgressChain},
		{"iptables", "-w", "-t", "mangle", "-I", "POSTROUTING", "1", "-d", ServiceCIDR, "-j", EgressChain},

		{"ip6tables", "-w", "-t", "raw", "-N", Guard6Chain},
		{"ip6tables", "-w", "-t", "raw", "-A", Guard6Chain, "-j", "DROP"},
		{"ip6tables", "-w", "-t", "raw", "-I", "PREROUTING", "1", "-i", Bridge, "-j", Guard6Chain},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			return fmt.Errorf("network guard: %w", err)
		}
	}
	return nil
}

// GuardDrops returns the packet counters of the DROP rules of the guard's
// chains: from GuardChain (pod traffic to an outside address, dropped
// before routing) and from EgressChain (traffic of the rig's ranges about
// to leave through another interface).
func GuardDrops() (guard, egress int64, err error) {
	if guard, err = dropCounter("raw", GuardChain); err != nil {
		return 0, 0, err
	}
	if egress, err = dropCounter("mangle", EgressChain); err != nil {
		return 0, 0, err
	}
	return guard, egress, nil
}

// dropCounter reads the packet counter of the DROP rule in table/chain
// from `iptables -t table -L chain -v -x -n`.
func dropCounter(table, chain string) (int64, error) {
	out, err := output("iptables", "-w", "-t", table, "-L", chain, "-v", "-x", "-n")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// pkts bytes target prot opt in out source destination
		if len(f) >= 3 && f[2] == "DROP" {
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("iptables -t %s -L %s: counter %q: %w", table, chain, f[0], err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("iptables -t %s -L %s: no DROP rule in:\n%s", table, chain, out)
}

// run runs a host command; its error carries the command's own output.
func run(name string, args ...string) error {
	_, err := output(name, args...)
	return err
}

// output runs a host command and returns its standard output; its error
// carries the command line and the command's own output.
func output(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()+" "+string(out)))
	}
	return string(out), nil
}
