package pgstorage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// The helper process: the test binary run again with PGSTORAGE_HELPER set
// plays a second edge (see helperMain).
func TestMain(m *testing.M) {
	if mode := os.Getenv("PGSTORAGE_HELPER"); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

func helperMain(mode string) int {
	url := os.Getenv("PGSTORAGE_URL")
	lease, _ := time.ParseDuration(os.Getenv("PGSTORAGE_LEASE"))
	poll, _ := time.ParseDuration(os.Getenv("PGSTORAGE_POLL"))
	ctx := context.Background()
	b, err := newBackend(ctx, settings{databaseURL: url, lease: lease, poll: poll}, zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	switch mode {
	case "hold": // take the lock, say so, hold it until killed
		if err := b.lock(ctx, "contended"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println("LOCKED")
		select {}
	case "contend":
		until, _ := time.ParseDuration(os.Getenv("PGSTORAGE_FOR"))
		n, err := contend(ctx, b, url, 3, until)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("ACQUIRED", n)
		_ = b.Destruct()
		return 0
	}
	return 2
}

// contend runs workers goroutines that take and release the lock for the
// given time. Each holder records itself in lock_probe while it holds the
// lock; max_holders there is the most holders ever seen at once.
func contend(ctx context.Context, b *backend, url string, workers int, d time.Duration) (int64, error) {
	conn, err := pgxConnect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var total atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := holdOnce(ctx, b, conn); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	return total.Load(), firstErr
}

func holdOnce(ctx context.Context, b *backend, conn *pgxpool.Pool) error {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.lock(lctx, "contended"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `UPDATE lock_probe SET holders = holders + 1, max_holders = greatest(max_holders, holders + 1), acquisitions = acquisitions + 1`); err != nil {
		return err
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := conn.Exec(ctx, `UPDATE lock_probe SET holders = holders - 1`); err != nil {
		return err
	}
	return b.unlock(ctx, "contended")
}

func helperCmd(t *testing.T, mode, url string, lease, poll time.Duration, extra ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGSTORAGE_HELPER="+mode, "PGSTORAGE_URL="+url,
		"PGSTORAGE_LEASE="+lease.String(), "PGSTORAGE_POLL="+poll.String())
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stderr = os.Stderr
	// A test binary killed by its timeout takes its helpers with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func TestTryLockAndUnlockByOwnerOnly(t *testing.T) {
	url := newDB(t)
	ctx := ctxT(t)
	a := &Storage{b: open(t, url, "", 2*time.Second, 100*time.Millisecond)}
	other := &Storage{b: open(t, url, "", 2*time.Second, 100*time.Millisecond)}

	if ok, err := a.TryLock(ctx, "issue_cert_x"); !ok || err != nil {
		t.Fatalf("TryLock on a free lock = %v, %v; want true", ok, err)
	}
	if ok, err := other.TryLock(ctx, "issue_cert_x"); ok || err != nil {
		t.Fatalf("TryLock on a held lock = %v, %v; want false, nil", ok, err)
	}
	// A non-holder's unlock is refused and leaves the lock alone.
	if err := other.Unlock(ctx, "issue_cert_x"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Unlock by a non-holder = %v, want ErrNotHeld", err)
	}
	if ok, _ := other.TryLock(ctx, "issue_cert_x"); ok {
		t.Fatal("the lock was free after a non-holder's Unlock")
	}
	if err := other.RenewLockLease(ctx, "issue_cert_x", time.Minute); !errors.Is(err, ErrNotHeld) {
		t.Errorf("RenewLockLease by a non-holder = %v, want ErrNotHeld", err)
	}
	if err := a.RenewLockLease(ctx, "issue_cert_x", time.Minute); err != nil {
		t.Errorf("RenewLockLease by the holder = %v", err)
	}
	if err := a.Unlock(ctx, "issue_cert_x"); err != nil {
		t.Fatalf("Unlock by the holder = %v", err)
	}
	if err := a.Unlock(ctx, "issue_cert_x"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("second Unlock = %v, want ErrNotHeld", err)
	}
	if ok, err := other.TryLock(ctx, "issue_cert_x"); !ok || err != nil {
		t.Errorf("TryLock after release = %v, %v; want true", ok, err)
	}
	// Another name is another lock.
	if ok, _ := a.TryLock(ctx, "issue_cert_y"); !ok {
		t.Error("TryLock of a different name was refused")
	}
}

func TestLockWaitsForReleaseAndHonoursContext(t *testing.T) {
	url := newDB(t)
	ctx := ctxT(t)
	a := &Storage{b: open(t, url, "", 2*time.Second, 100*time.Millisecond)}
	b := &Storage{b: open(t, url, "", 2*time.Second, 100*time.Millisecond)}
	if err := a.Lock(ctx, "n"); err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "n"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock on a held lock with an expiring context = %v, want context.DeadlineExceeded", err)
	}

	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "n") }()
	// Held for several leases: the holder's refreshes keep b waiting.
	time.Sleep(5 * time.Second)
	select {
	case err := <-got:
		t.Fatalf("Lock returned %v while the holder was alive and refreshing", err)
	default:
	}
	if err := a.Unlock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock after release = %v", err)
	}
	if err := b.Unlock(ctx, "n"); err != nil {
		t.Error(err)
	}
}

// TestLostLeaseIsNotReleasedByOldHolder: a holder whose lease expired (it
// stopped refreshing) and was taken over cannot release the new holder's
// lock.
func TestLostLeaseIsNotReleasedByOldHolder(t *testing.T) {
	url := newDB(t)
	ctx := ctxT(t)
	a := open(t, url, "", time.Second, 100*time.Millisecond)
	b := open(t, url, "", time.Second, 100*time.Millisecond)
	if err := a.lock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	close(a.stop) // a's renewer stops, as if the edge hung
	<-a.done
	a.stop, a.done = make(chan struct{}), make(chan struct{})
	go a.renewLoop()
	a.mu.Lock()
	token := a.held["n"]
	a.held = map[string]string{} // hide it from the restarted renewer
	a.mu.Unlock()
	if err := b.lock(ctx, "n"); err != nil { // waits out the lease
		t.Fatal(err)
	}
	a.mu.Lock()
	a.held["n"] = token
	a.mu.Unlock()
	if err := a.unlock(ctx, "n"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Unlock by the holder whose lease expired = %v, want ErrNotHeld", err)
	}
	if ok, _ := a.tryLock(ctx, "n"); ok {
		t.Error("the new holder's lock was released by the old holder")
	}
	if err := b.unlock(ctx, "n"); err != nil {
		t.Errorf("Unlock by the new holder = %v", err)
	}
}

// TestContention: 20 goroutines (two storages in this process) and 3
// processes take and release one lock for a few seconds; the database
// records how many held it at once.
func TestContention(t *testing.T) {
	url := newDB(t)
	ctx := ctxT(t)
	conn, err := pgxConnect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(ctx, `CREATE TABLE lock_probe (holders int NOT NULL, max_holders int NOT NULL, acquisitions int NOT NULL); INSERT INTO lock_probe VALUES (0, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	const lease, poll, d = 2 * time.Second, 20 * time.Millisecond, 4 * time.Second

	var procs []*exec.Cmd
	var outs []*strings.Builder
	for range 3 {
		cmd := helperCmd(t, "contend", url, lease, poll, "PGSTORAGE_FOR="+d.String())
		out := new(strings.Builder)
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs, outs = append(procs, cmd), append(outs, out)
	}
	var wg sync.WaitGroup
	var local atomic.Int64
	for range 2 {
		b := open(t, url, "", lease, poll)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := contend(ctx, b, url, 10, d)
			if err != nil {
				t.Error(err)
			}
			local.Add(n)
		}()
	}
	wg.Wait()
	var remote int64
	for i, cmd := range procs {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper process %d: %v", i, err)
		}
		f := strings.Fields(outs[i].String())
		if len(f) != 2 || f[0] != "ACQUIRED" {
			t.Fatalf("helper process %d said %q", i, outs[i].String())
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		if n == 0 {
			t.Errorf("helper process %d never got the lock", i)
		}
		remote += n
	}
	var holders, maxHolders, acquisitions int64
	if err := conn.QueryRow(ctx, `SELECT holders, max_holders, acquisitions FROM lock_probe`).Scan(&holders, &maxHolders, &acquisitions); err != nil {
		t.Fatal(err)
	}
	t.Logf("acquisitions: %d in this process, %d in the helpers", local.Load(), remote)
	if maxHolders != 1 || holders != 0 {
		t.Errorf("most holders at once = %d (now %d), want 1 (0)", maxHolders, holders)
	}
	if acquisitions != local.Load()+remote || local.Load() == 0 {
		t.Errorf("acquisitions recorded %d, counted %d+%d", acquisitions, local.Load(), remote)
	}
}

// TestKill9LeaseExpiry: an edge killed with SIGKILL while it holds a lock
// (default lease) loses it once the lease expires, within 15 s.
func TestKill9LeaseExpiry(t *testing.T) {
	url := newDB(t)
	ctx := ctxT(t)
	cmd := helperCmd(t, "hold", url, DefaultLockLease, DefaultLockPollInterval)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "LOCKED" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	b := &Storage{b: open(t, url, "", DefaultLockLease, DefaultLockPollInterval)}
	if ok, _ := b.TryLock(ctx, "contended"); ok {
		t.Fatal("TryLock succeeded while the helper held the lock")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := b.Lock(lctx, "contended"); err != nil {
		t.Fatalf("Lock after kill -9 of the holder: %v (want it within 15 s)", err)
	}
	t.Logf("lock taken over %s after kill -9", time.Since(killed).Round(100*time.Millisecond))
	if err := b.Unlock(ctx, "contended"); err != nil {
		t.Error(err)
	}
}

func pgxConnect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return pgxpool.New(ctx, url)
}
