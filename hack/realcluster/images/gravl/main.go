// Command gravl is the "gravl" app of the real-cluster rig: the reference
// HTTP target of bench/target (every request answered with 200 and the two
// bytes "ok", text/plain), listening on a pod's address. bench/target itself
// refuses anything but a loopback address, and a pod's loopback cannot be
// reached from other pods, the kubelet's probes or a Service.
//
//	gravl [--addr :8080]
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on (inside the pod's network namespace)")
	flag.Parse()
	ok := []byte("ok")
	log.Printf("gravl: listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(ok)
	})))
}
