package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// DefaultHost is the only kind of address the sandbox listens on: loopback.
const DefaultHost = "127.0.0.1"

// shutdownGrace bounds a graceful HTTP shutdown before connections are cut.
const shutdownGrace = 5 * time.Second

// ErrNotLoopback is returned when asked to listen on a non-loopback address.
var ErrNotLoopback = errors.New("sandbox listens on loopback only")

// Options configure Start. The zero value is a ready demo.
type Options struct {
	// Host is the IP literal every server listens on; it must be a loopback
	// address. Empty means 127.0.0.1.
	Host string
	// Seed seeds every random choice (latency, injected errors, generated
	// names) so a demo run is reproducible.
	Seed uint64
	// Clock drives the simulated cluster and stamps certificates and seed
	// objects; nil means the real clock.
	Clock clock.WithTicker
	// CertValidity is how long the generated leaf certificate is valid from
	// now; zero means DefaultCertValidity. A short one shows an expiring
	// certificate.
	CertValidity time.Duration
	// RolloutStep is the simulated controllers' tick; zero means
	// DefaultRolloutStep.
	RolloutStep time.Duration
	// Wait injects the backend's latency; nil means TimerWait. Tests record
	// the drawn durations through it instead of sleeping.
	Wait WaitFunc
}

// Endpoint is one thing the sandbox serves, for `cockpit demo` to print.
type Endpoint struct {
	Name        string
	Address     string
	Description string
}

// Sandbox is the running demo room: the gravl backend over HTTP and HTTPS,
// its DNS zone, and the simulated cluster, all in-process and on loopback.
type Sandbox struct {
	// HTTPURL is the backend's plain HTTP base URL, e.g. http://127.0.0.1:41234.
	HTTPURL string
	// HTTPSURL is the backend's HTTPS base URL on the IP; send ServerName as
	// SNI and verify against CAPool.
	HTTPSURL string
	// ServerName is the TLS server name to send and verify: "gravl.app".
	ServerName string
	// DNSAddr is the DNS server's host:port, for UDP and TCP alike.
	DNSAddr string
	// CAPEM is the generated CA certificate in PEM; CAPool holds it.
	CAPEM  []byte
	CAPool *x509.CertPool
	// Leaf is the serving certificate (public part only).
	Leaf *x509.Certificate
	// Faults are the backend's injectable faults.
	Faults *Faults
	// Zone is the DNS zone served at DNSAddr; change it to break a record.
	Zone *Zone
	// Cluster is the simulated cluster.
	Cluster *SimulatedCluster

	cancel    context.CancelFunc
	mu        sync.Mutex
	stopAfter func() bool // unregisters the close-on-cancel hook
	httpSrv   *http.Server
	httpsSrv  *http.Server
	dns       *dnsServer
	serveWG   sync.WaitGroup
	ctrlDone  <-chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start starts everything the demo needs and returns once it is serving. The
// sandbox runs until Close is called or ctx is cancelled; call Close in
// either case to release it and wait for its goroutines.
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	host, err := loopbackHost(opts.Host)
	if err != nil {
		return nil, err
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	validity := opts.CertValidity
	if validity == 0 {
		validity = DefaultCertValidity
	}
	if validity < 0 {
		return nil, fmt.Errorf("sandbox: certificate validity %v: must be positive", validity)
	}
	wait := opts.Wait
	if wait == nil {
		wait = TimerWait
	}

	pki, err := newPKI(clk.Now(), validity)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	faults := NewFaults(opts.Seed)
	handler, err := newBackend(faults, wait)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	zone, err := NewZone(ZoneOrigin, DefaultRecords()...)
	if err != nil {
		return nil, fmt.Errorf("sandbox: DNS zone: %w", err)
	}
	cluster, err := NewSimulatedCluster(ClusterOptions{Clock: clk, RolloutStep: opts.RolloutStep, Seed: opts.Seed})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	s := &Sandbox{
		ServerName: ServerName,
		CAPEM:      pki.caPEM,
		CAPool:     x509.NewCertPool(),
		Leaf:       pki.leafCert,
		Faults:     faults,
		Zone:       zone,
		Cluster:    cluster,
		cancel:     cancel,
	}
	s.CAPool.AddCert(pki.caCert)
	if err := s.start(runCtx, host, handler, pki); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	stop := context.AfterFunc(runCtx, func() { _ = s.Close() })
	s.mu.Lock()
	s.stopAfter = stop
	s.mu.Unlock()
	return s, nil
}

func (s *Sandbox) start(ctx context.Context, host string, handler http.Handler, pki *pki) error {
	newServer := func() *http.Server {
		return &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			// Request contexts end when the sandbox closes, freeing stalled
			// and delayed requests at once.
			BaseContext: func(net.Listener) context.Context { return ctx },
		}
	}
	httpLn, err := listenTCP(host)
	if err != nil {
		return err
	}
	s.httpSrv = newServer()
	s.HTTPURL = "http://" + httpLn.Addr().String()
	s.serve(func() error { return s.httpSrv.Serve(httpLn) })

	httpsLn, err := listenTCP(host)
	if err != nil {
		return err
	}
	s.httpsSrv = newServer()
	s.httpsSrv.TLSConfig = pki.serverTLSConfig()
	s.HTTPSURL = "https://" + httpsLn.Addr().String()
	s.serve(func() error { return s.httpsSrv.ServeTLS(httpsLn, "", "") })

	if s.dns, err = startDNS(host, s.Zone); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	s.DNSAddr = s.dns.addr

	if s.ctrlDone, err = s.Cluster.StartControllers(ctx); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

func (s *Sandbox) serve(run func() error) {
	s.serveWG.Go(func() {
		// ErrServerClosed is the normal end; other errors surface as failed
		// requests to whoever is probing.
		_ = run()
	})
}

// ClientTLSConfig returns a client configuration that verifies the sandbox's
// certificate properly: its CA as the only root, ServerName as SNI.
func (s *Sandbox) ClientTLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.CAPool, ServerName: s.ServerName}
}

// Endpoints lists what the sandbox serves, for `cockpit demo` to print.
func (s *Sandbox) Endpoints() []Endpoint {
	return []Endpoint{
		{Name: "http", Address: s.HTTPURL, Description: "gravl API: /health, /api/exercises (faults injectable)"},
		{Name: "https", Address: s.HTTPSURL, Description: "gravl API over TLS; SNI " + s.ServerName + ", verify with the sandbox CA"},
		{Name: "metrics", Address: s.HTTPURL + routeMetrics, Description: "Prometheus exposition of the API's request counters and latency"},
		{Name: "dns", Address: s.DNSAddr, Description: "authoritative DNS for " + ZoneOrigin + " (UDP and TCP)"},
		{Name: "cluster", Address: "in-process", Description: ClusterName + ": cert-manager, sealed-secrets, gravl-staging (a demo fake)"},
	}
}

// Close stops every server and controller and waits for their goroutines.
// It is idempotent and safe to call concurrently.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown() })
	return s.closeErr
}

func (s *Sandbox) shutdown() error {
	s.mu.Lock()
	stop := s.stopAfter
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.Faults.close()
	s.cancel()
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, srv := range []*http.Server{s.httpSrv, s.httpsSrv} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down HTTP server: %w", err), srv.Close())
		}
	}
	s.serveWG.Wait()
	if s.dns != nil {
		errs = append(errs, s.dns.shutdown(ctx))
	}
	s.Cluster.Close()
	if s.ctrlDone != nil {
		<-s.ctrlDone
	}
	return joinErrors("sandbox: close", errs)
}

// loopbackHost validates the listen host: an IP literal on loopback.
func loopbackHost(host string) (string, error) {
	if host == "" {
		return DefaultHost, nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("sandbox: listen host %q: want a loopback IP literal such as 127.0.0.1: %w", host, ErrNotLoopback)
	}
	return host, nil
}

// listenTCP listens on a free port of host and checks it bound to loopback.
func listenTCP(host string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen on %s: %w", host, err)
	}
	if addr, ok := ln.Addr().(*net.TCPAddr); !ok || !addr.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("sandbox: bound to %s: %w", ln.Addr(), ErrNotLoopback)
	}
	return ln, nil
}
