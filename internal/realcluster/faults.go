package realcluster

import (
	"context"
	"fmt"
	"time"
)

// StopComponent stops one of the node's processes — "kubelet",
// "kube-apiserver", "kube-proxy", "kube-router", "kube-controller-manager",
// "kube-scheduler" — by its PID (SIGTERM, then SIGKILL after 10 s), as an
// outage would: what it runs (the containers of a kubelet) keeps running.
// StartComponent starts it again.
func (c *Cluster) StopComponent(name string) error {
	p, err := c.component(name)
	if err != nil {
		return err
	}
	if err := p.stop(10 * time.Second); err != nil {
		return fmt.Errorf("realcluster: %w", err)
	}
	return nil
}

// StartComponent starts a component StopComponent stopped, with the
// arguments it had; its log goes on in the same file. The API server is
// waited on until /readyz answers (its exit, with the end of its log, is the
// error), and kube-router is then restarted too: kube-router v2.1.0 was
// seen, after API server restarts here, to go on running without
// programming new pods' firewall rules (a default deny not enforced for
// them), so the rig's policy engine starts again with fresh watches. For
// the others it returns once the process runs.
func (c *Cluster) StartComponent(name string) error {
	if err := c.startComponent(name); err != nil {
		return err
	}
	if name != "kube-apiserver" {
		return nil
	}
	if err := c.StopComponent("kube-router"); err != nil {
		return err
	}
	return c.startComponent("kube-router")
}

// startComponent is StartComponent without kube-router's restart.
func (c *Cluster) startComponent(name string) error {
	p, err := c.component(name)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	default:
		return fmt.Errorf("realcluster: start %s: it is running (pid %d)", name, p.cmd.Process.Pid)
	}
	np, err := startProc(c.state, name, p.bin, p.args...)
	if err != nil {
		return fmt.Errorf("realcluster: %w", err)
	}
	c.mu.Lock()
	for i, q := range c.procs {
		if q == p {
			c.procs[i] = np
		}
	}
	c.mu.Unlock()
	if name != "kube-apiserver" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		select {
		case <-np.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err = waitFor(ctx, "kube-apiserver /readyz", 100*time.Millisecond, func() error {
		_, err := c.Typed.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
	select {
	case <-np.done:
		return fmt.Errorf("realcluster: restart: %w", np.exitErr())
	default:
	}
	if err != nil {
		return fmt.Errorf("realcluster: restart: %w; the end of %s:\n%s", err, np.logPath, tail(np.logPath, 15))
	}
	return nil
}

// component is the running rig's process of that name.
func (c *Cluster) component(name string) (*proc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name == "etcd" || name == "containerd" {
		return nil, fmt.Errorf("realcluster: %s is not stopped and started by tests (the node's state lives in it)", name)
	}
	for _, p := range c.procs {
		if p.name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("realcluster: no component %q", name)
}

// Exited describes the node's components whose process has exited — each
// with its exit and the end of its log — other than one StopComponent
// stopped and StartComponent has not started again. A component that dies
// after Start is found here.
func (c *Cluster) Exited() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.procs {
		select {
		case <-p.done:
			if !p.stopped.Load() {
				out = append(out, p.exitErr().Error())
			}
		default:
		}
	}
	return out
}
