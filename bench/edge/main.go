// Command edge is the helper of bench/edge.sh: `edge upstream ADDR` serves
// the test upstream (a small fixed answer, /healthz), and `edge seed URL SUB`
// makes sure the control plane at URL has an active tenant SUB.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tenantgate/tenantgate/bench/internal/seed"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 && len(args) != 3 {
		return errors.New("usage: edge upstream ADDR | edge seed DATABASE_URL SUBDOMAIN")
	}
	switch args[0] {
	case "upstream":
		return upstream(args[1])
	case "seed":
		if len(args) != 3 {
			return errors.New("usage: edge seed DATABASE_URL SUBDOMAIN")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return seed.ActiveTenants(ctx, args[1], args[2])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// body is what the upstream answers: about the size of a small JSON reply.
var body = []byte(`{"items":[{"id":"1","name":"Widget","price":"9.99"}],"next_cursor":""}` + "\n")

func upstream(addr string) error {
	srv := &http.Server{
		Addr: addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
