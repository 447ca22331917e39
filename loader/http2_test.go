package loader

import (
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// protoServer counts the requests it serves by protocol: HTTP/2 over TLS
// (ALPN h2), HTTP/2 in clear text (h2c), HTTP/1.x.
type protoServer struct {
	*httptest.Server
	h2, h2c, h1 atomic.Int64
}

func (p *protoServer) handler(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.ProtoMajor == 2 && r.TLS != nil && r.TLS.NegotiatedProtocol == "h2":
		p.h2.Add(1)
	case r.ProtoMajor == 2 && r.TLS == nil:
		p.h2c.Add(1)
	case r.ProtoMajor == 1:
		p.h1.Add(1)
	}
	fmt.Fprint(w, "ok")
}

func (p *protoServer) served() int64 { return p.h2.Load() + p.h2c.Load() + p.h1.Load() }

// newTLSProtoServer is a TLS server offering h2 and http/1.1 by ALPN, with
// httptest's self-signed certificate. Handshake failures are expected in
// some tests: the server's log of them is discarded.
func newTLSProtoServer(t *testing.T) *protoServer {
	t.Helper()
	p := &protoServer{}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(p.handler))
	p.EnableHTTP2 = true
	p.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.StartTLS()
	t.Cleanup(p.Close)
	return p
}

// newH2CProtoServer speaks HTTP/1.1 and HTTP/2 with prior knowledge on a
// plain TCP listener.
func newH2CProtoServer(t *testing.T) *protoServer {
	t.Helper()
	p := &protoServer{}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(p.handler))
	p.Config.Protocols = new(http.Protocols)
	p.Config.Protocols.SetHTTP1(true)
	p.Config.Protocols.SetUnencryptedHTTP2(true)
	p.Start()
	t.Cleanup(p.Close)
	return p
}

func (p *protoServer) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Certificate())
	return pool
}

func bounded(n int64, r Request) Config {
	return Config{
		Executor: Executor{Kind: ConstantVUs, VUs: 4, Duration: time.Minute, Iterations: n},
		Requests: []Request{r},
	}
}

// HTTP2: true negotiates h2 by ALPN over TLS: the server sees every request
// as HTTP/2 on a TLS connection whose negotiated protocol is h2.
func TestHTTP2OverTLS(t *testing.T) {
	srv := newTLSProtoServer(t)
	cfg := bounded(100, Request{URL: srv.URL + "/h2"})
	cfg.HTTP2, cfg.RootCAs = true, srv.pool()
	last := runToEnd(t, cfg)
	if srv.h2.Load() != 100 || srv.served() != 100 {
		t.Errorf("server saw h2 %d, h2c %d, HTTP/1 %d; want 100 over h2", srv.h2.Load(), srv.h2c.Load(), srv.h1.Load())
	}
	if last.Total.Requests != 100 || last.Total.Status[200] != 100 || last.Total.Failed != 0 {
		t.Errorf("requests %d status %v failed %d errors %+v", last.Total.Requests, last.Total.Status, last.Total.Failed, last.Total.Errors)
	}
	// HTTP/2 multiplexes: 4 VUs share connections, so at most a few TLS
	// handshakes, each recorded as a phase.
	if n := last.Total.TLS.Count; n < 1 || n > 4 {
		t.Errorf("%d TLS handshakes recorded, want 1…4", n)
	}
}

// HTTP2: true over http:// speaks h2c with prior knowledge: no TLS, no
// upgrade dance, HTTP/2 from the first byte.
func TestHTTP2CleartextPriorKnowledge(t *testing.T) {
	srv := newH2CProtoServer(t)
	cfg := bounded(100, Request{URL: srv.URL + "/h2c"})
	cfg.HTTP2 = true
	last := runToEnd(t, cfg)
	if srv.h2c.Load() != 100 || srv.served() != 100 {
		t.Errorf("server saw h2 %d, h2c %d, HTTP/1 %d; want 100 over h2c", srv.h2.Load(), srv.h2c.Load(), srv.h1.Load())
	}
	if last.Total.Requests != 100 || last.Total.Failed != 0 {
		t.Errorf("requests %d failed %d errors %+v", last.Total.Requests, last.Total.Failed, last.Total.Errors)
	}
	// Without HTTP2 the same server is spoken to in HTTP/1.1, by both clients.
	for _, client := range clients {
		before := srv.h1.Load()
		cfg := bounded(20, Request{URL: srv.URL + "/h1"})
		cfg.Client = client
		last := runToEnd(t, cfg)
		if srv.h1.Load()-before != 20 || last.Total.Failed != 0 {
			t.Errorf("%s: server saw %d HTTP/1 requests, failed %d; want 20 and 0", client, srv.h1.Load()-before, last.Total.Failed)
		}
	}
}

// The h1 client offers only http/1.1 by ALPN, so an h2-capable TLS server
// answers it in HTTP/1.1.
func TestH1ClientNegotiatesHTTP1OverTLS(t *testing.T) {
	srv := newTLSProtoServer(t)
	cfg := bounded(40, Request{URL: srv.URL})
	cfg.Client, cfg.RootCAs = ClientH1, srv.pool()
	last := runToEnd(t, cfg)
	if srv.h1.Load() != 40 || srv.served() != 40 || last.Total.Failed != 0 {
		t.Errorf("server saw h2 %d HTTP/1 %d, loader failed %d; want 40 HTTP/1 and 0", srv.h2.Load(), srv.h1.Load(), last.Total.Failed)
	}
}

// TLS verification is on by default: against a self-signed server every
// request fails with the TLS class and none reaches the handler. Insecure
// or the server's CA in RootCAs make the same run pass. For every client.
func TestTLSVerificationIsOnByDefault(t *testing.T) {
	srv := newTLSProtoServer(t)
	variants := []struct {
		name   string
		client ClientKind
		http2  bool
	}{{"h1", ClientH1, false}, {"net/http", ClientNetHTTP, false}, {"http2", ClientAuto, true}}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			base := bounded(10, Request{URL: srv.URL})
			base.Client, base.HTTP2 = v.client, v.http2

			before := srv.served()
			last := runToEnd(t, base)
			if got := last.Total.Errors.TLS; got != 10 || last.Total.Failed != 10 {
				t.Errorf("default: %d TLS errors, %d failed (errors %+v), want 10 and 10", got, last.Total.Failed, last.Total.Errors)
			}
			if srv.served() != before {
				t.Errorf("default: %d requests reached the handler past an unverified certificate", srv.served()-before)
			}

			insecure := base
			insecure.Insecure = true
			if last := runToEnd(t, insecure); last.Total.Failed != 0 || last.Total.Status[200] != 10 {
				t.Errorf("insecure: failed %d status %v errors %+v", last.Total.Failed, last.Total.Status, last.Total.Errors)
			}

			trusted := base
			trusted.RootCAs = srv.pool()
			if last := runToEnd(t, trusted); last.Total.Failed != 0 || last.Total.Status[200] != 10 {
				t.Errorf("RootCAs: failed %d status %v errors %+v", last.Total.Failed, last.Total.Status, last.Total.Errors)
			}
			// A pool without the server's CA is no better than the default.
			other := base
			other.RootCAs = x509.NewCertPool()
			if last := runToEnd(t, other); last.Total.Errors.TLS != 10 {
				t.Errorf("a pool without the CA: errors %+v, want 10 TLS", last.Total.Errors)
			}
		})
	}
}
