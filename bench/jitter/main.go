package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "loopback address to listen on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "jitter: --addr %q: want a loopback IP:port\n", *addr)
		os.Exit(2)
	}
	var n atomic.Int64
	ok := []byte("ok")
	mux := http.NewServeMux()
	mux.HandleFunc("/jitter", func(w http.ResponseWriter, _ *http.Request) {
		k := n.Add(1)
		d := 5 * time.Millisecond
		switch {
		case k%100 == 0:
			d = 500 * time.Millisecond
		case k%20 == 0:
			d = 50 * time.Millisecond
		}
		time.Sleep(d)
		_, _ = w.Write(ok)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(ok) })
	log.Fatal(http.ListenAndServe(*addr, mux))
}
