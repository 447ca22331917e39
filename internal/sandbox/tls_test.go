package sandbox

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestTLSVerifiesAgainstGeneratedCA(t *testing.T) {
	const validity = 72 * time.Hour
	start := time.Now()
	s := startSandbox(t, Options{CertValidity: validity})
	c := newClient(s)

	resp, err := c.Get(s.HTTPSURL + "/health")
	if err != nil {
		t.Fatalf("GET over verified TLS: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if got, want := leaf.NotAfter, start.Add(validity); got.Before(want.Add(-time.Minute)) || got.After(want.Add(time.Minute)) {
		t.Errorf("NotAfter %v, want about %v", got, want)
	}
	if !leaf.NotBefore.Before(start) {
		t.Errorf("NotBefore %v is not before start %v", leaf.NotBefore, start)
	}
	if want := LeafDNSNames(); !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNS SANs %v, want %v", leaf.DNSNames, want)
	}
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("IP SANs %v, want [127.0.0.1]", leaf.IPAddresses)
	}
	if leaf.Issuer.CommonName != "Cockpit Sandbox CA" {
		t.Errorf("issuer %q", leaf.Issuer.CommonName)
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("leaf key is %T, want ECDSA", leaf.PublicKey)
	}
	if !leaf.Equal(s.Leaf) {
		t.Error("served leaf differs from Sandbox.Leaf")
	}

	block, rest := pem.Decode(s.CAPEM)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("CAPEM is not exactly one certificate")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || leaf.CheckSignatureFrom(ca) != nil {
		t.Error("leaf is not signed by the exposed CA")
	}
}

func TestTLSNames(t *testing.T) {
	s := startSandbox(t, Options{})
	tests := []struct {
		serverName string
		roots      *x509.CertPool
		wantErr    bool
	}{
		{serverName: "gravl.app", roots: s.CAPool},
		{serverName: "staging.gravl.app", roots: s.CAPool},
		{serverName: "api.gravl.app", roots: s.CAPool},
		{serverName: "localhost", roots: s.CAPool},
		{serverName: "", roots: s.CAPool}, // verified against the IP SAN
		{serverName: "www.gravl.app", roots: s.CAPool, wantErr: true},
		{serverName: "example.com", roots: s.CAPool, wantErr: true},
		{serverName: "gravl.app", roots: x509.NewCertPool(), wantErr: true}, // unknown authority
	}
	addr := s.HTTPSURL[len("https://"):]
	for _, tt := range tests {
		t.Run(tt.serverName, func(t *testing.T) {
			d := tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: tt.roots, ServerName: tt.serverName}}
			conn, err := d.DialContext(t.Context(), "tcp", addr)
			if conn != nil {
				_ = conn.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("handshake error %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				var hostErr x509.HostnameError
				var authErr x509.UnknownAuthorityError
				if !errors.As(err, &hostErr) && !errors.As(err, &authErr) {
					t.Errorf("error %v is not a verification error", err)
				}
			}
		})
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{name: "all interfaces", opts: Options{Host: "0.0.0.0"}, want: ErrNotLoopback},
		{name: "private address", opts: Options{Host: "10.0.0.1"}, want: ErrNotLoopback},
		{name: "IPv6 unspecified", opts: Options{Host: "::"}, want: ErrNotLoopback},
		{name: "host name", opts: Options{Host: "localhost"}, want: ErrNotLoopback},
		{name: "garbage", opts: Options{Host: "127.0.0.1:80"}, want: ErrNotLoopback},
		{name: "negative validity", opts: Options{CertValidity: -time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(t.Context(), tt.opts)
			if err == nil {
				_ = s.Close()
				t.Fatal("Start succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEverythingListensOnLoopback(t *testing.T) {
	s := startSandbox(t, Options{})
	for _, e := range s.Endpoints() {
		if e.Name == "" || e.Address == "" || e.Description == "" {
			t.Errorf("incomplete endpoint %+v", e)
		}
	}
	for _, addr := range []string{s.HTTPURL[len("http://"):], s.HTTPSURL[len("https://"):], s.DNSAddr} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s is not on loopback", addr)
		}
	}
}

func TestCancelledContextClosesSandbox(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Start(ctx, Options{Wait: noWait})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	// Close waits for the shutdown the cancellation started.
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := http.Get(s.HTTPURL + "/health"); err == nil {
		t.Error("server still answers after its context was cancelled")
	}
}
