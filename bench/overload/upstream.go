package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// startUpstream serves, on addr, a small JSON answer after delay, and
// /healthz at once; it has no concurrency limit of its own.
func startUpstream(addr string, delay time.Duration) (*http.Server, error) {
	body := []byte(`{"items":[{"id":"1","name":"Widget","price":"9.99"}],"next_cursor":""}` + "\n")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				time.Sleep(delay)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("upstream:", err)
		}
	}()
	return srv, nil
}
