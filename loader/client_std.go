package loader

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// stdShared is the net/http client all VUs share when HTTP/2 is on (or the
// net/http client is chosen): one Transport tuned for load, and wire byte
// counters fed by its connections.
type stdShared struct {
	client            *http.Client
	transport         *http.Transport
	bytesIn, bytesOut atomic.Int64
}

func newStdShared(cfg Config, tlsConf *tls.Config) *stdShared {
	s := &stdShared{}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	vus := max(cfg.Executor.VUs, cfg.Executor.MaxVUs, 1)
	for _, st := range cfg.Executor.Stages {
		if cfg.Executor.Kind == RampingVUs {
			vus = max(vus, int(st.Target))
		}
	}
	protocols := new(http.Protocols)
	if cfg.HTTP2 {
		protocols.SetHTTP2(true)
		protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge on http:// URLs
	} else {
		protocols.SetHTTP1(true)
	}
	t := &http.Transport{
		Proxy: nil, // a load test goes straight to its target
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &sharedCountConn{Conn: c, s: s}, nil
		},
		TLSClientConfig:     tlsConf.Clone(),
		TLSHandshakeTimeout: cfg.Timeout,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: vus,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // no gzip negotiation: measure what the server sends
		Protocols:           protocols,
	}
	s.transport = t
	s.client = &http.Client{
		Transport: t,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is a result, not a detour
		},
	}
	return s
}

// sharedCountConn counts wire bytes into the shared atomic counters; with
// HTTP/2 several goroutines use a connection.
type sharedCountConn struct {
	net.Conn
	s *stdShared
}

func (c *sharedCountConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.bytesIn.Add(int64(n))
	return n, err
}

func (c *sharedCountConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.s.bytesOut.Add(int64(n))
	return n, err
}

// stdClient is one VU's use of the shared net/http client: its requests
// are built once and reused after each response body is closed.
type stdClient struct {
	sh      *stdShared
	now     func() int64
	reqs    []*http.Request
	bodies  []*bytes.Reader
	tr      stdTrace
	capture bytes.Buffer
}

// stdTrace collects httptrace timestamps (elapsed ns). Transport goroutines
// call the hooks, hence the atomics.
type stdTrace struct {
	getConn, dnsStart, dnsDone, connStart, connDone, tlsStart, tlsDone atomic.Int64
	gotConn, wrote, firstByte                                          atomic.Int64
}

func (t *stdTrace) reset() {
	for _, v := range []*atomic.Int64{&t.getConn, &t.dnsStart, &t.dnsDone, &t.connStart, &t.connDone, &t.tlsStart, &t.tlsDone, &t.gotConn, &t.wrote, &t.firstByte} {
		v.Store(-1)
	}
}

func newStdClient(ctx context.Context, sh *stdShared, reqs []*preparedRequest, now func() int64) *stdClient {
	c := &stdClient{sh: sh, now: now}
	tr := &c.tr
	trace := &httptrace.ClientTrace{
		GetConn:  func(string) { tr.getConn.Store(now()) },
		DNSStart: func(httptrace.DNSStartInfo) { tr.dnsStart.Store(now()) },
		DNSDone:  func(httptrace.DNSDoneInfo) { tr.dnsDone.Store(now()) },
		ConnectStart: func(string, string) {
			tr.connStart.CompareAndSwap(-1, now())
		},
		ConnectDone:          func(string, string, error) { tr.connDone.Store(now()) },
		TLSHandshakeStart:    func() { tr.tlsStart.Store(now()) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { tr.tlsDone.Store(now()) },
		GotConn:              func(httptrace.GotConnInfo) { tr.gotConn.Store(now()) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { tr.wrote.Store(now()) },
		GotFirstResponseByte: func() { tr.firstByte.Store(now()) },
	}
	tctx := httptrace.WithClientTrace(ctx, trace)
	for _, pr := range reqs {
		br := bytes.NewReader(pr.body)
		req, err := http.NewRequestWithContext(tctx, pr.method, pr.url.String(), nil)
		if err != nil {
			// The URL was validated; keep the slot so indexes line up.
			req = nil
		} else {
			req.Header = pr.header.Clone()
			req.Host = pr.host
			if len(pr.body) > 0 {
				body := pr.body
				req.ContentLength = int64(len(body))
				req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			}
		}
		c.reqs = append(c.reqs, req)
		c.bodies = append(c.bodies, br)
	}
	return c
}

func (c *stdClient) close() {}

func (c *stdClient) do(ctx context.Context, pr *preparedRequest, res *result) []byte {
	req := c.reqs[pr.idx]
	if req == nil {
		res.class = ClassOther
		return nil
	}
	if len(pr.body) > 0 {
		br := c.bodies[pr.idx]
		br.Reset(pr.body)
		req.Body = io.NopCloser(br)
	}
	c.tr.reset()
	resp, err := c.sh.client.Do(req)
	if err != nil {
		c.phases(res, c.now())
		res.class = classify(ctx, err)
		if res.class == ClassNone {
			res.class = ClassOther
		}
		return nil
	}
	res.status = resp.StatusCode
	res.gotResponse = true
	c.capture.Reset()
	if pr.capture {
		_, err = c.capture.ReadFrom(io.LimitReader(resp.Body, maxCapture))
	}
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	_ = resp.Body.Close()
	end := c.now()
	c.phases(res, end)
	// Bytes are counted per connection, not per request: connections are
	// shared, so the owner of the metrics reads the shared counters instead.
	if err != nil {
		res.class = classify(ctx, err)
		if res.class == ClassNone || errors.Is(err, io.EOF) {
			res.class = ClassReset
		}
		return nil
	}
	return c.capture.Bytes()
}

func (c *stdClient) phases(res *result, end int64) {
	t := &c.tr
	// A connection was set up under this request's trace. GotConnInfo.Reused
	// is not asked: with HTTP/2 the transport may mark a connection it has
	// just dialled for this very request as reused (it is shared as soon as
	// it is up) before GotConn reports it, and the handshake went unrecorded.
	if t.connDone.Load() >= 0 {
		res.newConn = true
		if s, d := t.dnsStart.Load(), t.dnsDone.Load(); s >= 0 && d >= s {
			res.dns = d - s
		}
		if s, d := t.connStart.Load(), t.connDone.Load(); s >= 0 && d >= s {
			res.connect = d - s
		}
		if s, d := t.tlsStart.Load(), t.tlsDone.Load(); s >= 0 && d >= s {
			res.tlsHandshake = d - s
		}
	}
	if g, w := t.gotConn.Load(), t.wrote.Load(); g >= 0 && w >= g {
		res.sending = w - g
		if f := t.firstByte.Load(); f >= w {
			res.waiting = f - w
			if end >= f {
				res.receiving = end - f
			}
		}
	}
}
