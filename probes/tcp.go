package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// TCPSpec configures a "tcp" probe: one connection to host:port, closed as
// soon as it is established. A refused or timed-out connection is an error
// result, not a failed check: the probe could not reach what it observes.
//
//	probe: {kind: tcp, host: db.gravl.internal, port: 5432, timeout: 3s}
type TCPSpec struct {
	Host     string        `json:"host" yaml:"host"`
	Port     int           `json:"port" yaml:"port"`
	Timeout  Duration      `json:"timeout,omitempty" yaml:"timeout,omitempty"` // default 5s
	Outcomes []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var _ Spec = (*TCPSpec)(nil)

// tcpValues are what a tcp probe observes.
var tcpValues = []string{"connect_ms"}

// defaultTCPOutcomes pass any connection that was established: a refused or
// timed-out one never reaches the rules (it is StatusError).
var defaultTCPOutcomes = []OutcomeSpec{
	{Pass: &RuleSpec{Message: "connected in {{connect_ms}}ms"}},
}

// Values implements Spec.
func (s *TCPSpec) Values() []string { return tcpValues }

// Validate implements Spec.
func (s *TCPSpec) Validate() error {
	errs := validateHostPort(s.Host, s.Port, true)
	if s.Timeout < 0 {
		errs = append(errs, fieldErr("timeout", "must not be negative"))
	}
	if _, err := CompileOutcomes(s.Outcomes, tcpValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateHostPort checks a host and port pair; with portRequired a zero port
// is an error, else zero means the kind's default.
func validateHostPort(host string, port int, portRequired bool) []error {
	var errs []error
	switch {
	case host == "":
		errs = append(errs, fieldErr("host", "required"))
	case strings.ContainsAny(host, "/ \t") || strings.Contains(host, "://"):
		errs = append(errs, fieldErr("host", "want a host name or IP address, got %q", host))
	case strings.Contains(host, ":") && net.ParseIP(host) == nil:
		errs = append(errs, fieldErr("host", "%q: give the port in the port field", host))
	}
	switch {
	case port == 0 && portRequired:
		errs = append(errs, fieldErr("port", "required"))
	case port < 0 || port > 65535:
		errs = append(errs, fieldErr("port", "%d is not a TCP port (1-65535)", port))
	}
	return errs
}

// Build implements Spec.
func (s *TCPSpec) Build(env Env) (Probe, Outcomes, error) {
	specs := s.Outcomes
	if len(specs) == 0 {
		specs = defaultTCPOutcomes
	}
	rules, err := CompileOutcomes(specs, tcpValues)
	if err != nil {
		return nil, nil, err
	}
	return &tcpProbe{
		addr:    net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		timeout: s.Timeout.Or(5 * time.Second),
		env:     env,
	}, rules, nil
}

type tcpProbe struct {
	addr    string
	timeout time.Duration
	env     Env
}

var _ Probe = (*tcpProbe)(nil)

func (p *tcpProbe) Observe(ctx context.Context) Observation {
	start := p.env.now()
	conn, err := dialTCP(ctx, p.addr, p.timeout)
	elapsed := p.env.now().Sub(start)
	if err != nil {
		return Observation{Err: fmt.Errorf("connect %s: %w", p.addr, err)}
	}
	_ = conn.Close() // nothing was sent; a close error tells nothing about the target
	return Observation{
		Summary: fmt.Sprintf("connected to %s in %s", p.addr, roundLatency(elapsed)),
		Values:  map[string]float64{"connect_ms": float64(elapsed) / float64(time.Millisecond)},
	}
}

// dialTCP connects within timeout and names the two common failures plainly.
func dialTCP(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		return conn, nil
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("timeout: %w", ctx.Err())
	case ctx.Err() != nil:
		return nil, fmt.Errorf("cancelled: %w", ctx.Err())
	}
	// "dial tcp 127.0.0.1:5432: connect: connection refused" repeats what the
	// caller already says; keep the cause.
	cause := err
	var oe *net.OpError
	if errors.As(cause, &oe) {
		cause = oe.Err
	}
	var se *os.SyscallError
	if errors.As(cause, &se) {
		cause = se.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, fmt.Errorf("timeout after %s: %w", timeout, cause)
	}
	return nil, cause
}
