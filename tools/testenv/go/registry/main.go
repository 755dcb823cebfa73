// registry: go-containerregistry's OCI distribution registry (pkg/registry, in memory) served over
// TLS, for the real-node tests: `npm run image -- --push` pushes brupop's image index and `helm
// push` its charts here; the nodes' containerd pulls from it (kit/testenv/registry.ts).
//
//	registry -addr 127.0.0.1:5000 -cert tls.crt -key tls.key
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "listen address")
	cert := flag.String("cert", "", "TLS certificate (PEM)")
	key := flag.String("key", "", "TLS private key (PEM)")
	flag.Parse()
	srv := &http.Server{
		Addr:              *addr,
		Handler:           registry.New(registry.WithReferrersSupport(true)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("registry listening on https://%s", *addr)
	if *cert == "" || *key == "" {
		log.Fatal("registry: -cert and -key are required (TLS only)")
	}
	log.Fatal(srv.ListenAndServeTLS(*cert, *key))
}
