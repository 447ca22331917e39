package main

import (
	"log"
	"net/http"

	"github.com/cockpit-dev/cockpit/bench/internal/loopback"
)

func main() {
	addr := loopback.Addr("target", "127.0.0.1:18080")
	ok := []byte("ok")
	log.Fatal(http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(ok)
	})))
}
