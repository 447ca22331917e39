package loader

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// ErrorClass is why a request failed; each request has at most one.
type ErrorClass uint8

// Error classes, in the order the summary lists them. Transport classes win
// over status classes, which win over a failed check.
const (
	ClassNone        ErrorClass = iota
	ClassRefused                // connection refused: nothing listens
	ClassTimeout                // the request did not finish within the timeout
	ClassReset                  // the connection was reset or closed mid-request
	ClassDNS                    // the name did not resolve
	ClassTLS                    // handshake or certificate failure
	ClassProtocol               // the response was not valid HTTP
	ClassOther                  // any other transport error
	ClassHTTP4xx                // status 400–499
	ClassHTTP5xx                // status 500–599
	ClassCheckFailed            // a response check failed
	classInterrupted            // cut by the end of the grace period or ctx: not a request
	numClasses
)

var classNames = [numClasses]string{
	ClassNone: "none", ClassRefused: "refused", ClassTimeout: "timeout", ClassReset: "reset",
	ClassDNS: "dns", ClassTLS: "tls", ClassProtocol: "protocol", ClassOther: "other",
	ClassHTTP4xx: "http_4xx", ClassHTTP5xx: "http_5xx", ClassCheckFailed: "check_failed",
	classInterrupted: "interrupted",
}

// ErrorClasses returns every error class a request can have, in the order
// the summary lists them.
func ErrorClasses() []ErrorClass {
	out := make([]ErrorClass, 0, ClassCheckFailed)
	for c := ClassRefused; c <= ClassCheckFailed; c++ {
		out = append(out, c)
	}
	return out
}

func (c ErrorClass) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "unknown"
}

// transport reports whether the class is a transport failure (no response).
func (c ErrorClass) transport() bool { return c >= ClassRefused && c <= ClassOther }

// errProtocol marks a response that is not valid HTTP/1.1.
var errProtocol = errors.New("malformed HTTP response")

// classify maps a transport error to its class. ctx is the request's
// context: a cancelled one means the run cut the request short.
func classify(ctx context.Context, err error) ErrorClass {
	if err == nil {
		return ClassNone
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return classInterrupted
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ClassDNS
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return ClassReset
	case errors.Is(err, errProtocol):
		return ClassProtocol
	}
	var (
		recErr  tls.RecordHeaderError
		verErr  *tls.CertificateVerificationError
		alert   tls.AlertError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	if errors.As(err, &recErr) || errors.As(err, &verErr) || errors.As(err, &alert) ||
		errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) ||
		strings.Contains(err.Error(), "tls: ") {
		return ClassTLS
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return ClassTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassTimeout
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "malformed HTTP"), strings.Contains(msg, "bogus"), strings.Contains(msg, "PROTOCOL_ERROR"),
		strings.Contains(msg, "http2: ") && strings.Contains(msg, "frame"):
		return ClassProtocol
	case strings.Contains(msg, "server closed"), strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"):
		return ClassReset
	case strings.Contains(msg, "Client.Timeout"), strings.Contains(msg, "timeout awaiting"):
		return ClassTimeout
	}
	return ClassOther
}

// result is one request's outcome, as a worker hands it to the owner of the
// histograms. Times are nanoseconds of elapsed run time.
type result struct {
	intended int64 // when the schedule wanted it sent (== start in closed models)
	start    int64 // when it was sent
	end      int64 // when the response was read, or the request failed

	// Phases in nanoseconds; dns, connect and tls only when newConn.
	dns, connect, tlsHandshake  int64
	sending, waiting, receiving int64

	bytesIn, bytesOut int64
	status            int
	class             ErrorClass
	newConn           bool
	gotResponse       bool
	checksPassed      uint16
	checksFailed      uint16
}
