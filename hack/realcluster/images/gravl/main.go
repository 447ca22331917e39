// Command gravl is the "gravl" app of the real-cluster rig: the reference
// HTTP target of bench/target (every request answered with 200 and the two
// bytes "ok", text/plain), listening on a pod's addresses. bench/target
// itself refuses anything but a loopback address, and a pod's loopback
// cannot be reached from other pods, the kubelet's probes or a Service.
//
// The rig also tags this image as the images examples/gravl/app.yaml names
// (ghcr.io/gravl-app/backend and frontend), so it listens by default on
// each port those manifests use: 8080, 3000 (backend) and 80 (frontend).
//
// With -proxy it is the rig's stand-in for an ingress controller instead:
// every request is passed to the proxy URL (a Service's cluster DNS name),
// over HTTP on -addr and, with -tls-cert and -tls-key, over TLS on
// -tls-addr — as ingress-nginx terminates TLS with the certificate
// cert-manager issued.
//
//	gravl [-addr :8080,:3000,:80]
//	gravl -proxy http://backend.gravl-prod.svc.cluster.local:3000 -addr :80 \
//	      -tls-addr :443 -tls-cert /tls/tls.crt -tls-key /tls/tls.key
package main

import (
	"errors"
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

func main() {
	addrs := flag.String("addr", ":8080,:3000,:80", "comma-separated addresses to listen on (inside the pod's network namespace)")
	proxy := flag.String("proxy", "", "pass every request to this URL instead of answering it")
	tlsAddr := flag.String("tls-addr", ":443", "address for TLS, with -tls-cert and -tls-key")
	tlsCert := flag.String("tls-cert", "", "certificate file (PEM) for TLS on -tls-addr")
	tlsKey := flag.String("tls-key", "", "private key file (PEM) for -tls-cert")
	flag.Parse()

	var h http.Handler
	if *proxy != "" {
		u, err := url.Parse(*proxy)
		if err != nil || u.Host == "" {
			log.Fatalf("gravl: -proxy %q is not a URL with a host", *proxy)
		}
		h = httputil.NewSingleHostReverseProxy(u)
	} else {
		ok := []byte("ok")
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(ok)
		})
	}
	errs := make(chan error)
	for _, a := range strings.Split(*addrs, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		log.Printf("gravl: listening on %s", a)
		go func() { errs <- http.ListenAndServe(a, h) }()
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		log.Fatal("gravl: -tls-cert and -tls-key go together")
	}
	if *tlsCert != "" {
		log.Printf("gravl: listening on %s (TLS)", *tlsAddr)
		go func() { errs <- http.ListenAndServeTLS(*tlsAddr, *tlsCert, *tlsKey, h) }()
	}
	err := <-errs
	if errors.Is(err, http.ErrServerClosed) {
		return
	}
	log.Fatal(err)
}
