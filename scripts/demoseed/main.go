// Command demoseed fills the demo tenants of `make run` with sample
// customers, products, expenses and several months of invoices in mixed
// states (so the reports have something to show). It goes through caddy, as a browser
// would: it logs in as the tenant's admin at http://<tenant>.<base>:<port>
// and uses the tenant API (SPEC §7), so it exercises the real request path.
//
// It is idempotent: customers are matched by email, products by SKU, and
// expenses and invoices are only added to a tenant that has none.
//
//	DEMO_PASSWORD=… go run ./scripts/demoseed -edge http://127.0.0.1:8080 acme globex
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "demoseed: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	edge := flag.String("edge", "http://127.0.0.1:8080", "caddy's HTTP address (scheme://ip:port)")
	base := flag.String("base-domain", "localhost", "tenants live at <subdomain>.<base-domain>")
	passwordEnv := flag.String("password-env", "DEMO_PASSWORD", "environment variable holding the demo admin password")
	wait := flag.Duration("wait", 60*time.Second, "how long to wait for the stack to answer")
	flag.Parse()
	password := os.Getenv(*passwordEnv)
	if password == "" {
		return fmt.Errorf("environment variable %s is empty: set the demo admin password", *passwordEnv)
	}
	if flag.NArg() == 0 {
		return errors.New("usage: demoseed [flags] <subdomain>…")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *wait+2*time.Minute)
	defer cancel()

	for _, sub := range flag.Args() {
		c, err := newClient(*edge, sub+"."+*base)
		if err != nil {
			return err
		}
		if err := c.waitReady(ctx, *wait); err != nil {
			return fmt.Errorf("tenant %s: %w", sub, err)
		}
		if err := c.login(ctx, DemoEmail(sub, *base), password); err != nil {
			return fmt.Errorf("tenant %s: %w", sub, err)
		}
		n, err := seed(ctx, c, catalog(sub))
		if err != nil {
			return fmt.Errorf("seeding tenant %s: %w", sub, err)
		}
		if n == 0 {
			fmt.Printf("demo data for %s: already there\n", sub)
		} else {
			fmt.Printf("demo data for %s: %d records added\n", sub, n)
		}
	}
	return nil
}

// DemoEmail is the demo admin's login of a tenant; scripts/run.sh creates the
// tenants with the same address.
func DemoEmail(sub, base string) string {
	return "admin@" + sub + ".example"
}

// client talks to one tenant through the edge.
type client struct {
	http  *http.Client
	edge  string // scheme://ip:port
	host  string // tenant host, sent as Host
	token string
}

// newClient dials edge's address whatever the request's host name, so
// "<tenant>.localhost" works where the system resolver does not know it.
func newClient(edge, host string) (*client, error) {
	i := strings.Index(edge, "://")
	if i < 0 {
		return nil, fmt.Errorf("edge address %q: want scheme://host:port", edge)
	}
	addr := edge[i+3:]
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	return &client{
		http: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		edge: edge,
		host: host,
	}, nil
}

// apiError is a non-2xx answer.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, strings.TrimSpace(e.Body))
}

func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.edge+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Host = c.host
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s http://%s%s: %w", method, c.host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s http://%s%s: reading answer: %w", method, c.host, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s http://%s%s: %w", method, c.host, path, &apiError{resp.StatusCode, string(b)})
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s http://%s%s: decoding answer: %w", method, c.host, path, err)
		}
	}
	return nil
}

// waitReady polls /readyz through the edge until the tenant's appserver
// answers 200.
func (c *client) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for {
		last = c.do(ctx, http.MethodGet, "/readyz", nil, nil)
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("http://%s/readyz did not answer 200 within %s: %w", c.host, limit, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (c *client) login(ctx context.Context, email, password string) error {
	var out struct {
		Token string `json:"token"`
	}
	err := c.do(ctx, http.MethodPost, "/api/auth/login", map[string]string{"email": email, "password": password}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		return fmt.Errorf("logging in as %s was refused: the tenant was created with another password "+
			"(set DEMO_PASSWORD to it, or delete the tenant: tenantctl suspend %s && tenantctl delete %s --drop-database): %w",
			email, c.host, c.host, err)
	}
	if err != nil {
		return fmt.Errorf("logging in as %s: %w", email, err)
	}
	if out.Token == "" {
		return fmt.Errorf("logging in as %s: no token in the answer", email)
	}
	c.token = out.Token
	return nil
}

// list fetches every item of a list endpoint, following next_cursor.
func list[T any](ctx context.Context, c *client, path string) ([]T, error) {
	var all []T
	cursor := ""
	for range 100 {
		p := path + "?limit=500"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items      []T    `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := c.do(ctx, http.MethodGet, p, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	return all, nil
}
