package loader

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// h1Client is the loader's own HTTP/1.1 client. Each VU has one, holding at
// most one keep-alive connection per endpoint, so a request is a write of
// pre-serialised bytes and a read of the response on the VU's goroutine:
// no connection pool, no goroutine hand-off, no allocation per request.
//
// It implements what a load test meets: Content-Length, chunked and
// read-to-close bodies, HEAD/204/304 without body, 1xx responses skipped,
// Connection: close and HTTP/1.0, a retry of idempotent requests that find
// their keep-alive connection closed by the server, TLS with ALPN http/1.1.
// It does not follow redirects (the 3xx is the result), use proxies, or
// negotiate compression.
type h1Client struct {
	eps     []*endpoint
	timeout time.Duration
	now     func() int64
	conns   []*h1Conn
	br      *bufio.Reader // reused across this VU's connections
	brConn  net.Conn      // the connection br reads
	capture []byte
}

// h1Conn is one connection. cc counts the bytes on the wire.
type h1Conn struct {
	cc   *countConn
	c    net.Conn // cc, or TLS over it
	stop func() bool
}

// countConn counts the bytes read and written; only its VU uses it.
type countConn struct {
	net.Conn
	in, out int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in += int64(n)
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out += int64(n)
	return n, err
}

// Limits on a response head.
const (
	h1BufSize     = 16 << 10 // also the longest header line
	maxHeaderSize = 64 << 10
)

// longAgo is a deadline in the past: setting it aborts blocked I/O.
var longAgo = time.Unix(1, 0)

func newH1Client(eps []*endpoint, timeout time.Duration, now func() int64) *h1Client {
	return &h1Client{eps: eps, timeout: timeout, now: now, conns: make([]*h1Conn, len(eps))}
}

func (c *h1Client) close() {
	for i := range c.conns {
		c.closeConn(i)
	}
}

func (c *h1Client) closeConn(i int) {
	if hc := c.conns[i]; hc != nil {
		hc.stop()
		_ = hc.c.Close()
		c.conns[i] = nil
	}
}

func (c *h1Client) do(ctx context.Context, pr *preparedRequest, res *result) []byte {
	deadline := time.Now().Add(c.timeout)
	for attempt := 0; ; attempt++ {
		hc := c.conns[pr.endpoint]
		fresh := hc == nil
		if fresh {
			var err error
			hc, err = c.dial(ctx, c.eps[pr.endpoint], deadline, res)
			if err != nil {
				res.class = classify(ctx, err)
				return nil
			}
			c.conns[pr.endpoint] = hc
		}
		in0, out0 := hc.cc.in, hc.cc.out
		if fresh {
			in0, out0 = 0, 0 // the handshake counts too
		}
		keep, err := c.roundTrip(ctx, hc, pr, res, deadline)
		res.bytesIn += hc.cc.in - in0
		res.bytesOut += hc.cc.out - out0
		if err == nil {
			if !keep {
				c.closeConn(pr.endpoint)
			}
			return c.capture
		}
		c.closeConn(pr.endpoint)
		// A keep-alive connection the server closed while it sat idle fails
		// before any response byte: send again on a new one, once, if the
		// request is idempotent.
		if !fresh && attempt == 0 && pr.retry && !res.gotResponse && hc.cc.in == in0 &&
			ctx.Err() == nil && time.Now().Before(deadline) && isStale(err) {
			res.sending, res.waiting, res.receiving = 0, 0, 0
			continue
		}
		res.class = classify(ctx, err)
		if res.class == ClassNone {
			res.class = ClassOther
		}
		return nil
	}
}

func isStale(err error) bool {
	c := classify(context.Background(), err)
	return c == ClassReset
}

func (c *h1Client) dial(ctx context.Context, ep *endpoint, deadline time.Time, res *result) (*h1Conn, error) {
	res.newConn = true
	ips := []net.IP{ep.ip}
	if ep.ip == nil {
		t := c.now()
		dctx, cancel := context.WithDeadline(ctx, deadline)
		addrs, err := net.DefaultResolver.LookupIPAddr(dctx, ep.host)
		cancel()
		res.dns = c.now() - t
		if err != nil {
			return nil, err
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	t := c.now()
	d := net.Dialer{Deadline: deadline, KeepAlive: 30 * time.Second}
	var conn net.Conn
	var err error
	for _, ip := range ips {
		conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), ep.port))
		if err == nil {
			break
		}
	}
	res.connect = c.now() - t
	if err != nil {
		return nil, err
	}
	cc := &countConn{Conn: conn}
	hc := &h1Conn{cc: cc, c: cc}
	// Cancelling ctx aborts whatever the connection is blocked on.
	hc.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(longAgo) })
	if ep.tls {
		t := c.now()
		tc := tls.Client(cc, ep.tlsConf)
		_ = conn.SetDeadline(deadline)
		err := tc.HandshakeContext(ctx)
		res.tlsHandshake = c.now() - t
		if err != nil {
			hc.stop()
			_ = conn.Close()
			return nil, err
		}
		hc.c = tc
	}
	return hc, nil
}

// roundTrip writes the request and reads the response. keep reports whether
// the connection may be reused.
func (c *h1Client) roundTrip(ctx context.Context, hc *h1Conn, pr *preparedRequest, res *result, deadline time.Time) (keep bool, err error) {
	if err := hc.cc.Conn.SetDeadline(deadline); err != nil {
		return false, err
	}
	// A cancellation that fired before SetDeadline would be overwritten by it.
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if c.br == nil {
		c.br = bufio.NewReaderSize(hc.c, h1BufSize)
		c.brConn = hc.c
	} else if c.brConn != hc.c {
		c.br.Reset(hc.c)
		c.brConn = hc.c
	}
	t0 := c.now()
	if _, err := hc.c.Write(pr.wire); err != nil {
		return false, err
	}
	t1 := c.now()
	res.sending = t1 - t0
	if _, err := c.br.Peek(1); err != nil {
		return false, err
	}
	t2 := c.now()
	res.waiting = t2 - t1
	keep, err = c.readResponse(pr, res)
	res.receiving = c.now() - t2
	if err == nil && c.br.Buffered() > 0 {
		keep = false // bytes beyond the response: the stream is out of step
	}
	return keep, err
}

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// line reads one CRLF- or LF-terminated line without its terminator. The
// slice is valid until the next read.
func (c *h1Client) line() ([]byte, error) {
	l, err := c.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, protoErr("a header line is longer than %d bytes", h1BufSize)
		}
		if errors.Is(err, io.EOF) && len(l) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	l = l[:len(l)-1]
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l, nil
}

func (c *h1Client) readResponse(pr *preparedRequest, res *result) (keep bool, err error) {
	c.capture = c.capture[:0]
	for {
		l, err := c.line()
		if err != nil {
			return false, err
		}
		// "HTTP/1.1 200 OK"
		if len(l) < 12 || !bytes.HasPrefix(l, []byte("HTTP/1.")) || l[7] < '0' || l[7] > '1' || l[8] != ' ' ||
			(len(l) > 12 && l[12] != ' ') {
			return false, protoErr("bad status line %q", truncate(l))
		}
		status := 0
		for _, d := range l[9:12] {
			if d < '0' || d > '9' {
				return false, protoErr("bad status code %q", truncate(l))
			}
			status = status*10 + int(d-'0')
		}
		if status < 100 {
			return false, protoErr("bad status code %d", status)
		}
		http10 := l[7] == '0'
		closeConn := http10
		contentLength := int64(-1)
		chunked := false
		size := len(l)
		for {
			h, err := c.line()
			if err != nil {
				return false, err
			}
			if len(h) == 0 {
				break
			}
			if size += len(h); size > maxHeaderSize {
				return false, protoErr("response head larger than %d bytes", maxHeaderSize)
			}
			colon := bytes.IndexByte(h, ':')
			if colon <= 0 {
				return false, protoErr("bad header line %q", truncate(h))
			}
			name, val := h[:colon], bytes.TrimSpace(h[colon+1:])
			switch {
			case bytes.EqualFold(name, []byte("content-length")):
				n, ok := parseDecimal(val)
				if !ok || contentLength >= 0 && contentLength != n {
					return false, protoErr("bad Content-Length %q", truncate(val))
				}
				contentLength = n
			case bytes.EqualFold(name, []byte("transfer-encoding")):
				if !http10 && hasToken(val, "chunked") {
					chunked = true
				}
			case bytes.EqualFold(name, []byte("connection")):
				if hasToken(val, "close") {
					closeConn = true
				} else if http10 && hasToken(val, "keep-alive") {
					closeConn = false
				}
			}
		}
		if status < 200 {
			if status == 101 {
				return false, protoErr("unexpected 101 Switching Protocols")
			}
			continue // 100 Continue, 103 Early Hints: the real response follows
		}
		res.status = status
		res.gotResponse = true
		switch {
		case pr.noBody || status == 204 || status == 304:
		case chunked:
			err = c.chunked(pr.capture)
		case contentLength >= 0:
			err = c.body(contentLength, pr.capture)
		default:
			// No length: the body runs to the end of the connection.
			closeConn = true
			err = c.toEOF(pr.capture)
		}
		return !closeConn, err
	}
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// hasToken reports whether a comma-separated header value holds token,
// case-insensitively.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var part []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			part, v = v, nil
		}
		if bytes.EqualFold(bytes.TrimSpace(part), []byte(token)) {
			return true
		}
	}
	return false
}

// body consumes n bytes, keeping up to maxCapture of them when capture is set.
func (c *h1Client) body(n int64, capture bool) error {
	if capture {
		for n > 0 && len(c.capture) < maxCapture {
			want := int(min(n, int64(maxCapture-len(c.capture)), int64(c.br.Size())))
			b, err := c.br.Peek(want)
			c.capture = append(c.capture, b...)
			_, _ = c.br.Discard(len(b))
			n -= int64(len(b))
			if err != nil {
				return unexpected(err)
			}
		}
	}
	for n > 0 {
		step := int(min(n, 1<<30))
		d, err := c.br.Discard(step)
		n -= int64(d)
		if err != nil {
			return unexpected(err)
		}
	}
	return nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (c *h1Client) toEOF(capture bool) error {
	for {
		b, err := c.br.Peek(1)
		if len(b) == 0 {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n := c.br.Buffered()
		if capture && len(c.capture) < maxCapture {
			b, _ = c.br.Peek(min(n, maxCapture-len(c.capture)))
			c.capture = append(c.capture, b...)
		}
		_, _ = c.br.Discard(n)
	}
}

func (c *h1Client) chunked(capture bool) error {
	for {
		l, err := c.line()
		if err != nil {
			return unexpected(err)
		}
		if i := bytes.IndexByte(l, ';'); i >= 0 {
			l = l[:i]
		}
		l = bytes.TrimSpace(l)
		if len(l) == 0 || len(l) > 15 {
			return protoErr("bad chunk size %q", truncate(l))
		}
		var size int64
		for _, d := range l {
			var v byte
			switch {
			case d >= '0' && d <= '9':
				v = d - '0'
			case d >= 'a' && d <= 'f':
				v = d - 'a' + 10
			case d >= 'A' && d <= 'F':
				v = d - 'A' + 10
			default:
				return protoErr("bad chunk size %q", truncate(l))
			}
			size = size<<4 | int64(v)
		}
		if size == 0 {
			// Trailers, up to an empty line.
			for {
				t, err := c.line()
				if err != nil {
					return unexpected(err)
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if err := c.body(size, capture); err != nil {
			return err
		}
		crlf, err := c.line()
		if err != nil {
			return unexpected(err)
		}
		if len(crlf) != 0 {
			return protoErr("chunk data longer than its size")
		}
	}
}
