package probes

import (
	"context"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fullListener returns the loopback port of a listening socket whose accept
// queue is full: Linux drops further SYNs, so a new connection neither
// succeeds nor is refused — it times out.
func fullListener(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // an accept queue of one
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := range 8 { // bounded: the queue holds one or two
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			if i == 0 {
				t.Fatalf("first connection to the full listener: %v", err)
			}
			return port // this one timed out: the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("the accept queue never filled")
	return 0
}

func TestTCPProbeTimeout(t *testing.T) {
	spec := TCPSpec{Host: "127.0.0.1", Port: fullListener(t), Timeout: Duration(100 * time.Millisecond)}
	p, rules, err := spec.Build(Env{})
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), p, rules, time.Now)
	if res.Status != StatusError || !strings.Contains(res.Message, "timeout after 100ms") {
		t.Fatalf("= %s %q, want an error with timeout after 100ms", res.Status, res.Message)
	}
}
