package loopback

import (
	"flag"
	"fmt"
	"net"
	"os"
)

// Addr parses the command line's --addr (default def) and returns it. A
// value that is not a loopback IP:port ends the program (status 2), the
// error prefixed with prog.
func Addr(prog, def string) string {
	addr := flag.String("addr", def, "loopback address to listen on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "%s: --addr %q: want a loopback IP:port\n", prog, *addr)
		os.Exit(2)
	}
	return *addr
}
