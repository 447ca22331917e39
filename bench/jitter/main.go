package main

import (
	"log"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cockpit-dev/cockpit/bench/internal/loopback"
)

func main() {
	addr := loopback.Addr("jitter", "127.0.0.1:18081")
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
	log.Fatal(http.ListenAndServe(addr, mux))
}
