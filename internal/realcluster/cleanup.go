package realcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host state the rig changes and must put back.
var (
	// sysctls the kubelet, kube-proxy, kube-router and the CNI plugin set.
	sysctls = []string{
		"net.ipv4.ip_forward", "vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops",
		"net.ipv4.conf.all.route_localnet", "net.bridge.bridge-nf-call-iptables",
		"net.bridge.bridge-nf-call-ip6tables",
	}
	// hostPaths are directories components create at fixed places whatever
	// they are configured with (the kubelet's device-plugins dir and
	// /var/log/containers, go-cni's result cache, the shims' sockets).
	hostPaths = []string{"/var/lib/kubelet", "/var/lib/cni", "/run/containerd", "/var/log/containers", "/var/log/pods"}
	// rigChainPrefixes name every iptables chain the rig's components create:
	// the kubelet, kube-proxy and kube-router (KUBE-), CNI (CNI-), the guard.
	rigChainPrefixes = []string{"KUBE-", "CNI-", "COCKPIT-RC-"}
	// rigIPSetPrefixes name kube-router's ipsets.
	rigIPSetPrefixes = []string{"KUBE-", "kube-router", "inet6:KUBE-", "inet6:kube-router"}
	// stopOrder is the order components are stopped in: the node first, the
	// control plane last.
	stopOrder = []string{"kubelet", "containerd", "kube-proxy", "kube-router", "kube-scheduler",
		"kube-controller-manager", "kube-apiserver", "etcd"}
)

// baseline is the host state recorded before the rig changed anything.
type baseline struct {
	Sysctls   map[string]string // name → value; absent keys did not exist
	HostPaths []string          // of hostPaths, those that did not exist
	Cgroups   []string          // kubepods cgroup dirs that did not exist
	NFTables  []string          // nft tables that existed ("ip raw", ...)
	lines     []string
}

// cgroupRoots are the kubelet's top-level cgroups (cgroupfs driver) in
// every mounted hierarchy.
func cgroupRoots() []string {
	var out []string
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range ents {
		out = append(out, filepath.Join("/sys/fs/cgroup", e.Name(), "kubepods"))
	}
	return out
}

// recordBaseline records what the rig is about to change, in memory and in
// the state dir (baseline.txt) for the clean-up of a crashed run.
func recordBaseline(state string) (*baseline, error) {
	b := &baseline{Sysctls: map[string]string{}}
	for _, k := range sysctls {
		if v, err := readSysctl(k); err == nil {
			b.Sysctls[k] = v
			b.lines = append(b.lines, "sysctl "+k+"="+v)
		}
	}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			b.HostPaths = append(b.HostPaths, p)
			b.lines = append(b.lines, "created "+p)
		}
	}
	for _, p := range cgroupRoots() {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			b.Cgroups = append(b.Cgroups, p)
			b.lines = append(b.lines, "cgroup "+p)
		}
	}
	b.NFTables = nftTables()
	for _, t := range b.NFTables {
		b.lines = append(b.lines, "nft "+t)
	}
	if err := os.WriteFile(filepath.Join(state, "baseline.txt"), []byte(strings.Join(b.lines, "\n")+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("record baseline: %w", err)
	}
	return b, nil
}

// readBaseline reads a crashed run's baseline.txt.
func readBaseline(state string) (*baseline, error) {
	raw, err := os.ReadFile(filepath.Join(state, "baseline.txt"))
	if err != nil {
		return nil, err
	}
	b := &baseline{Sysctls: map[string]string{}}
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		kind, rest, _ := strings.Cut(l, " ")
		switch kind {
		case "sysctl":
			k, v, _ := strings.Cut(rest, "=")
			b.Sysctls[k] = v
		case "created":
			b.HostPaths = append(b.HostPaths, rest)
		case "cgroup":
			b.Cgroups = append(b.Cgroups, rest)
		case "nft":
			b.NFTables = append(b.NFTables, rest)
		}
	}
	return b, nil
}

func readSysctl(k string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(k, ".", "/"))
	return strings.TrimSpace(string(b)), err
}

func writeSysctl(k, v string) error {
	return os.WriteFile("/proc/sys/"+strings.ReplaceAll(k, ".", "/"), []byte(v), 0o644)
}

// nftTables lists the nft tables ("ip raw", "ip6 mangle", ...), or nothing
// when nft is not installed.
func nftTables() []string {
	out, err := output("nft", "list", "tables")
	if err != nil {
		return nil
	}
	var ts []string
	for _, l := range strings.Split(out, "\n") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(l), "table "); ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// teardown removes everything the rig left on the host, whatever state it
// is in: the processes in the pid files (by PID, checked against their
// start time), any other process of the rig (its binaries' shims, its pods'
// containers), mounts under the state dir, iptables chains and ipsets, the
// bridge, the node IP, the kubelet's cgroups, changed sysctls, host paths
// the rig created, and the state dir itself. It carries on past errors and
// returns them all; notes says what it did.
func teardown(binDir, state string, b *baseline) (notes []string, err error) {
	var errs []error
	note := func(s string) { notes = append(notes, s) }
	fail := func(e error) {
		if e != nil {
			errs = append(errs, e)
		}
	}
	for _, n := range stopOrder {
		s, err := killPIDFile(filepath.Join(state, "pids", n+".pid"), 10*time.Second)
		if s != "" {
			note(s)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fail(err)
		}
	}
	// Shims, and containers whose shim is gone: SIGKILL, by PID.
	for _, pid := range rigPIDs(binDir, state) {
		fail(killPID(pid, 0))
		note(fmt.Sprintf("killed leftover pid %d", pid))
	}
	if b != nil {
		for _, cg := range b.Cgroups {
			fail(removeCgroup(cg))
		}
	}
	// The components' own clean-up of their rules, then a sweep of what
	// any of them (or CNI, or the guard) left.
	if _, err := os.Stat(filepath.Join(binDir, "kube-proxy")); err == nil {
		if err := run(filepath.Join(binDir, "kube-proxy"), "--cleanup"); err != nil {
			note(fmt.Sprintf("kube-proxy --cleanup: %v", err))
		}
	}
	if _, err := os.Stat(filepath.Join(binDir, "kube-router")); err == nil {
		// Its NetworkPolicy clean-up works; its IPVS clean-up then panics
		// where IPVS is unavailable (a nil pointer in v2.1.0). The sweep
		// below removes whatever it left.
		if err := run(filepath.Join(binDir, "kube-router"), "--cleanup-config"); err != nil {
			note(fmt.Sprintf("kube-router --cleanup-config failed (the sweep follows): %.200v", err))
		}
	}
	fail(unmountUnder(state))
	for _, cmd := range []string{"iptables", "ip6tables"} {
		fail(sweepChains(cmd))
	}
	fail(destroyIPSets())
	if b != nil {
		fail(dropCreatedNFTables(b.NFTables))
	}
	if linkExists(Bridge) {
		fail(run("ip", "link", "del", Bridge))
	}
	for _, r := range []string{PodCIDR, ServiceCIDR} { // only if the bridge was already gone
		if out, _ := output("ip", "route", "show", r); strings.TrimSpace(out) != "" {
			fail(run("ip", "route", "del", r))
		}
	}
	if nodeIPOnLo() {
		fail(run("ip", "addr", "del", NodeIP+"/32", "dev", "lo"))
	}
	if b != nil {
		for _, k := range sortedKeys(b.Sysctls) {
			if cur, err := readSysctl(k); err == nil && cur != b.Sysctls[k] {
				if err := writeSysctl(k, b.Sysctls[k]); err != nil {
					fail(fmt.Errorf("restore %s=%s: %w", k, b.Sysctls[k], err))
				} else {
					note(fmt.Sprintf("restored %s=%s (was %s)", k, b.Sysctls[k], cur))
				}
			}
		}
		for _, p := range b.HostPaths {
			if err := os.RemoveAll(p); err != nil {
				fail(fmt.Errorf("remove %s: %w", p, err))
			}
		}
	}
	if len(mountsUnder(state)) == 0 {
		if err := os.RemoveAll(state); err != nil {
			fail(fmt.Errorf("remove the state dir: %w", err))
		}
	} else {
		fail(fmt.Errorf("state dir %s kept: mounts remain under it: %v", state, mountsUnder(state)))
	}
	return notes, errors.Join(errs...)
}

// removeCgroup kills every process left in a kubelet cgroup tree (by PID)
// and removes its directories, deepest first.
func removeCgroup(root string) error {
	if _, err := os.Stat(root); err != nil {
		return nil
	}
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for _, d := range dirs {
		raw, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(raw)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = killPID(pid, 0)
			}
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	var errs []error
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var ms []string
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		if mp := unescapeMount(f[4]); under(mp, dir) {
			ms = append(ms, mp)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ms)))
	return ms
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder detaches every mount under dir, deepest first (overlay
// root filesystems, network namespaces, the kubelet's volume tmpfs).
func unmountUnder(dir string) error {
	var errs []error
	for _, m := range mountsUnder(dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("umount %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

func rigChain(name string) bool {
	for _, p := range rigChainPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// rigChains lists, per table, the rig's chains that cmd (iptables or
// ip6tables) shows, and the rules of other chains that jump to them.
func rigChains(cmd string) (chains map[string][]string, jumps map[string][]string, err error) {
	chains, jumps = map[string][]string{}, map[string][]string{}
	for _, table := range []string{"raw", "mangle", "filter", "nat"} {
		out, err := output(cmd+"-save", "-t", table)
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "Table does not exist") {
				continue
			}
			return nil, nil, err
		}
		for _, l := range strings.Split(out, "\n") {
			if c, ok := strings.CutPrefix(l, ":"); ok {
				if name := strings.Fields(c)[0]; rigChain(name) {
					chains[table] = append(chains[table], name)
				}
				continue
			}
			rest, ok := strings.CutPrefix(l, "-A ")
			if !ok {
				continue
			}
			f := strings.Fields(rest)
			if len(f) == 0 || rigChain(f[0]) {
				continue
			}
			for i := 1; i+1 < len(f); i++ {
				if (f[i] == "-j" || f[i] == "-g") && rigChain(f[i+1]) {
					jumps[table] = append(jumps[table], rest)
					break
				}
			}
		}
	}
	return chains, jumps, nil
}

// sweepChains deletes, with cmd (iptables or ip6tables), every jump from
// another chain into a rig chain, then flushes and deletes the rig chains,
// through one restore per table.
func sweepChains(cmd string) error {
	chains, jumps, err := rigChains(cmd)
	if err != nil {
		return fmt.Errorf("sweep %s chains: %w", cmd, err)
	}
	var errs []error
	for _, table := range []string{"raw", "mangle", "filter", "nat"} {
		if len(chains[table]) == 0 && len(jumps[table]) == 0 {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "*%s\n", table)
		for _, j := range jumps[table] {
			fmt.Fprintf(&b, "-D %s\n", j)
		}
		for _, c := range chains[table] {
			fmt.Fprintf(&b, "-F %s\n", c)
		}
		for _, c := range chains[table] {
			fmt.Fprintf(&b, "-X %s\n", c)
		}
		b.WriteString("COMMIT\n")
		c := exec.Command(cmd+"-restore", "-w", "--noflush")
		c.Stdin = strings.NewReader(b.String())
		if out, err := c.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s-restore -t %s: %w: %s\ninput:\n%s", cmd, table, err, strings.TrimSpace(string(out)), b.String()))
		}
	}
	return errors.Join(errs...)
}

func rigIPSet(name string) bool {
	for _, p := range rigIPSetPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// rigIPSets lists kube-router's ipsets.
func rigIPSets() []string {
	out, err := output("ipset", "list", "-n")
	if err != nil {
		return nil
	}
	var sets []string
	for _, s := range strings.Fields(out) {
		if rigIPSet(s) {
			sets = append(sets, s)
		}
	}
	return sets
}

func destroyIPSets() error {
	var errs []error
	for _, s := range rigIPSets() {
		if err := run("ipset", "destroy", s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dropCreatedNFTables deletes the nft tables iptables-nft created for the
// rig (not in before), when no rules are left in them.
func dropCreatedNFTables(before []string) error {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil
	}
	had := map[string]bool{}
	for _, t := range before {
		had[t] = true
	}
	var errs []error
	for _, t := range nftTables() {
		if had[t] || !(strings.HasPrefix(t, "ip ") || strings.HasPrefix(t, "ip6 ")) {
			continue
		}
		f := strings.Fields(t)
		out, err := output("nft", "list", "table", f[0], f[1])
		if err != nil {
			continue
		}
		if !nftTableEmpty(out) {
			continue
		}
		if err := run("nft", "delete", "table", f[0], f[1]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// nftTableEmpty reports whether an `nft list table` holds chains but no
// rules.
func nftTableEmpty(listing string) bool {
	for _, l := range strings.Split(listing, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "}" || strings.HasPrefix(l, "table ") || strings.HasPrefix(l, "chain ") ||
			strings.HasPrefix(l, "type ") || strings.HasPrefix(l, "policy ") {
			continue
		}
		return false
	}
	return true
}

func linkExists(name string) bool {
	return run("ip", "link", "show", name) == nil
}

func nodeIPOnLo() bool {
	out, _ := output("ip", "-o", "addr", "show", "dev", "lo")
	return strings.Contains(out, " "+NodeIP+"/32")
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// leftovers lists what of the rig is still on the host: everything
// teardown must remove. Empty means clean.
func leftovers(binDir, state string, b *baseline) []string {
	var out []string
	for _, pid := range rigPIDs(binDir, state) {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		out = append(out, fmt.Sprintf("process %d (%s)", pid, exe))
	}
	for _, m := range mountsUnder(state) {
		out = append(out, "mount "+m)
	}
	if _, err := os.Lstat(state); err == nil {
		out = append(out, "state dir "+state)
	}
	if linkExists(Bridge) {
		out = append(out, "interface "+Bridge)
	}
	for _, r := range []string{PodCIDR, ServiceCIDR} {
		if o, _ := output("ip", "route", "show", r); strings.TrimSpace(o) != "" {
			out = append(out, "route "+strings.TrimSpace(o))
		}
	}
	if nodeIPOnLo() {
		out = append(out, "address "+NodeIP+" on lo")
	}
	for _, cmd := range []string{"iptables", "ip6tables"} {
		chains, jumps, err := rigChains(cmd)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", cmd, err))
		}
		for t, cs := range chains {
			for _, c := range cs {
				out = append(out, fmt.Sprintf("%s chain %s/%s", cmd, t, c))
			}
		}
		for t, js := range jumps {
			for _, j := range js {
				out = append(out, fmt.Sprintf("%s rule %s: -A %s", cmd, t, j))
			}
		}
	}
	for _, s := range rigIPSets() {
		out = append(out, "ipset "+s)
	}
	// Network namespaces of pods: a netns file under the state dir is gone
	// with it; one a process still holds shows as a process above.
	if b != nil {
		for _, k := range sortedKeys(b.Sysctls) {
			if cur, err := readSysctl(k); err == nil && cur != b.Sysctls[k] {
				out = append(out, fmt.Sprintf("sysctl %s=%s (was %s)", k, cur, b.Sysctls[k]))
			}
		}
		for _, p := range append(append([]string{}, b.HostPaths...), b.Cgroups...) {
			if _, err := os.Lstat(p); err == nil {
				out = append(out, "path "+p)
			}
		}
	}
	return out
}
