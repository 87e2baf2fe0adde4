package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

const hosts = 50

func hostName(i int) string { return fmt.Sprintf("t%02d.tenants.example.com", i) }

// startAll starts n edges at once and waits for all of them.
func (f *fleet) startAll(prefix string, n int) []*edge {
	edges := make([]*edge, n)
	for i := range edges {
		edges[i] = f.start(fmt.Sprintf("%s%d", prefix, i+1))
	}
	for _, e := range edges {
		e.waitReady(f.t)
	}
	return edges
}

// serials handshakes every name on every edge at once and returns the leaf
// serial each edge presented, by name then edge.
func serials(t *testing.T, edges []*edge, names []string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out := make(map[string][]string, len(names))
	for _, n := range names {
		out[n] = make([]string, len(edges))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 60)
	for _, n := range names {
		for i, e := range edges {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				chain, err := e.handshake(ctx, n)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				out[n][i] = chain[0].SerialNumber.String()
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

// TestFleetACME: three edges share the storage in front of one upstream and
// get certificates from Pebble on demand.
func TestFleetACME(t *testing.T) {
	testenv.Integration(t)
	peb := startPebble(t)
	px := startProxy(t, peb)
	acme := fmt.Sprintf("\tacme_ca %s\n\tacme_ca_root %s\n\temail ops@example.com", px.url, px.caFile)
	f := newFleet(t, acme, "", map[string]string{})
	edges := f.startAll("edge", 3)

	names := make([]string, hosts)
	for i := range names {
		names[i] = hostName(i)
	}

	// 50 names, on all three edges at once: one order per name, one
	// certificate that every edge presents.
	got := serials(t, edges, names)
	counts := px.counts()
	seen := map[string]bool{}
	for _, n := range names {
		s := got[n]
		if s[0] == "" || s[0] != s[1] || s[1] != s[2] {
			t.Errorf("%s: edges presented serials %q, want one certificate on all three", n, s)
		}
		if seen[s[0]] {
			t.Errorf("%s: serial %s also served for another name", n, s[0])
		}
		seen[s[0]] = true
		if counts[n] != 1 {
			t.Errorf("%s: %d ACME orders, want exactly 1", n, counts[n])
		}
	}
	if o := peb.orders(); o != hosts {
		t.Errorf("Pebble created %d orders for %d names, want %d", o, hosts, hosts)
	}

	// With CERT_STORAGE_KEY every row is sealed, and nobody warned.
	assertEncrypted(t, f.env["DATABASE_URL"])
	for _, e := range edges {
		if strings.Contains(e.logs.String(), "not encrypted") {
			t.Errorf("%s warned that the storage is not encrypted although CERT_STORAGE_KEY is set", e.name)
		}
	}

	// The certificates chain to Pebble's root.
	root := peb.root(t)
	verifyChain(t, edges[0], names[0], root)

	// A warm edge's requests cost the storage nothing: new connections
	// (handshakes) and requests for names already in memory.
	before := make([]map[string]int64, len(edges))
	for i, e := range edges {
		before[i] = e.storageOps(t)
	}
	for round := range 3 {
		_ = round
		for i, e := range edges {
			for _, n := range names[:20] {
				if code := httpsGet(t, e, n, "/healthz"); code != 200 {
					t.Fatalf("%s GET https://%s/healthz = %d, want 200 from the appservers", e.name, n, code)
				}
				_ = i
			}
		}
	}
	for i, e := range edges {
		after := e.storageOps(t)
		for op, v := range after {
			if v != before[i][op] {
				t.Errorf("%s: storage %s operations went from %d to %d during warm requests, want none", e.name, op, before[i][op], v)
			}
		}
	}

	// kill -9 of the edge holding a name's issuance lock, in the middle of
	// its order (the proxy holds the order's finalization): another edge
	// completes that name within 20 s.
	victim := "kill.tenants.example.com"
	px.holdFinalize(victim)
	type result struct {
		edge   int
		serial string
		err    error
		at     time.Time
	}
	results := make(chan result, len(edges))
	hctx, hcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer hcancel()
	for i, e := range edges {
		go func() {
			chain, err := e.handshake(hctx, victim)
			r := result{edge: i, err: err, at: time.Now()}
			if err == nil {
				r.serial = chain[0].SerialNumber.String()
			}
			results <- r
		}()
	}
	select {
	case <-px.held:
	case <-time.After(time.Minute):
		t.Fatal("no finalization of the victim's order reached the CA within a minute")
	}
	holder := lockHolder(t, f.env["DATABASE_URL"], "issue_cert_"+victim, edges)
	if err := holder.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	killed := time.Now()
	<-holder.exited
	close(px.release)
	var survivors []string
	deadline := time.After(20 * time.Second)
	for range len(edges) {
		var r result
		select {
		case r = <-results:
		case <-deadline:
			t.Fatalf("the surviving edges did not complete %s within 20 s of kill -9 of %s", victim, holder.name)
		}
		if edges[r.edge] == holder {
			continue // its client's connection died with it
		}
		if r.err != nil {
			t.Fatalf("%s after kill -9 of the lock holder: %v", edges[r.edge].name, r.err)
		}
		survivors = append(survivors, r.serial)
		t.Logf("%s completed %s %s after kill -9 of %s", edges[r.edge].name, victim, r.at.Sub(killed).Round(100*time.Millisecond), holder.name)
	}
	if len(survivors) != 2 || survivors[0] != survivors[1] {
		t.Errorf("surviving edges presented %q for %s, want one serial", survivors, victim)
	}

	// A fourth edge, started afterwards, serves every name from storage
	// without a new order.
	ordersBefore := peb.orders()
	fourth := f.start("edge4")
	fourth.waitReady(t)
	all := append(append([]string{}, names...), victim)
	got4 := serials(t, []*edge{fourth}, all)
	for _, n := range names {
		if got4[n][0] != got[n][0] {
			t.Errorf("edge4 presented %s for %s, the fleet %s", got4[n][0], n, got[n][0])
		}
	}
	if got4[victim][0] != survivors[0] {
		t.Errorf("edge4 presented %s for %s, the survivors %s", got4[victim][0], victim, survivors[0])
	}
	if o := peb.orders(); o != ordersBefore {
		t.Errorf("Pebble orders went from %d to %d while edge4 served stored names, want no new order", ordersBefore, o)
	}
}

// TestFleetInternalCA: three edges started together on empty storage with
// `tls internal` issue certificates that chain to one root.
func TestFleetInternalCA(t *testing.T) {
	testenv.Integration(t)
	// No CERT_STORAGE_KEY: the edges start, and say that the storage is not
	// encrypted.
	f := newFleet(t, "", "internal", map[string]string{"CERT_STORAGE_KEY": ""})
	edges := f.startAll("edge", 3)
	for _, e := range edges {
		if !strings.Contains(e.logs.String(), "certificate storage is not encrypted") {
			t.Errorf("%s started without an encryption key and logged no warning", e.name)
		}
	}
	names := []string{hostName(0), hostName(1), hostName(2)}
	got := serials(t, edges, names)
	var roots []string
	for _, e := range edges {
		var ca struct {
			Root string `json:"root_certificate"`
		}
		if err := json.Unmarshal(e.adminGet(t, "/pki/ca/local"), &ca); err != nil {
			t.Fatal(err)
		}
		roots = append(roots, ca.Root)
	}
	if roots[0] == "" || roots[0] != roots[1] || roots[1] != roots[2] {
		t.Fatalf("the edges' internal CA roots differ:\n%s", strings.Join(roots, "\n"))
	}
	blk, _ := pem.Decode([]byte(roots[0]))
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edges {
		for _, n := range names {
			verifyChain(t, e, n, root)
		}
	}
	for _, n := range names {
		if s := got[n]; s[0] != s[1] || s[1] != s[2] {
			t.Errorf("%s: edges presented serials %q, want one certificate", n, s)
		}
	}
}

// verifyChain checks that the chain edge presents for name verifies to root.
func verifyChain(t *testing.T, e *edge, name string, root *x509.Certificate) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	chain, err := e.handshake(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter}); err != nil {
		t.Errorf("%s: certificate for %s does not chain to the expected root: %v", e.name, name, err)
	}
}

// lockHolder finds the edge whose process holds lock name, from the owner
// column ("host/pid/random") of cert_storage_locks.
func lockHolder(t *testing.T, dbURL, name string, edges []*edge) *edge {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var owner string
	if err := conn.QueryRow(ctx, `SELECT owner FROM cert_storage_locks WHERE name = $1`, name).Scan(&owner); err != nil {
		t.Fatalf("reading the holder of %s: %v", name, err)
	}
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		t.Fatalf("lock owner %q: want host/pid/random", owner)
	}
	pid, _ := strconv.Atoi(parts[1])
	for _, e := range edges {
		if e.cmd.Process.Pid == pid {
			return e
		}
	}
	t.Fatalf("lock %s is held by %q, none of the edges", name, owner)
	return nil
}

// assertEncrypted checks that every stored value has a key id and that no
// private key is readable in the table.
func assertEncrypted(t *testing.T, dbURL string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, clear, pemKeys int
	err = conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE key_id = ''),
		count(*) FILTER (WHERE position('PRIVATE KEY'::bytea in value) > 0) FROM cert_storage`).Scan(&rows, &clear, &pemKeys)
	if err != nil {
		t.Fatal(err)
	}
	if rows == 0 || clear != 0 || pemKeys != 0 {
		t.Errorf("cert_storage: %d rows, %d without a key id, %d with a readable private key; want all sealed", rows, clear, pemKeys)
	}
}
