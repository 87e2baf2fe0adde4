package testenv

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
}

// FreePorts returns n distinct loopback TCP ports nothing listens on right
// now. The kernel picks them; all n listeners are held until the last is
// chosen, so no port is handed out twice.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// Output collects what a child process writes to stdout and stderr at once;
// it is safe for concurrent writers and readers.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Process is a child process a test started with Start: it is stopped
// (SIGTERM, then SIGKILL after StopTimeout) when the test ends, and what it
// printed is logged when the test failed.
type Process struct {
	// Output is what the process wrote to stdout and stderr.
	Output *Output
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // Wait's answer; read after done is closed
}

// StopTimeout is how long a Process has to exit after SIGTERM at the end of
// its test before it is killed.
const StopTimeout = 10 * time.Second

// Start starts cmd in a process group of its own, its stdout and stderr
// going to the returned Process's Output, and registers its stop with
// t.Cleanup. name labels the output in the test log.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Output: new(Output), cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Output, p.Output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output)
		}
	})
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and Wait's error if so.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Wait waits for the process to end and returns Wait's error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM and waits up to StopTimeout for the process to end,
// then kills it. It is idempotent.
func (p *Process) Stop() {
	if done, _ := p.Exited(); done {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(StopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// WaitUntil polls ready every 100 ms until it returns true, failing t when
// the process exits first or within elapses; name labels the failure.
func (p *Process) WaitUntil(t testing.TB, name string, within time.Duration, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if done, err := p.Exited(); done {
			t.Fatalf("%s exited during start-up: %v\n%s", name, err, p.Output)
		}
		if ready() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not ready within %v\n%s", name, within, p.Output)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// HTTPOK reports whether GET url answers 200 through client (a default
// client with a 2 s timeout when nil); a ready probe for WaitUntil.
func HTTPOK(client *http.Client, url string) bool {
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	res, err := client.Get(url)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// GoBuild builds the package pkg (a path such as "./cmd/appserver",
// relative to the module root dir) into the binary out, the compiler's
// messages going to stderr. TestMain functions call it, so it takes no t.
func GoBuild(dir, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build -o %s %s: %w", out, pkg, err)
	}
	return nil
}

// SourcesNewerThan reports whether any non-test file under the given
// directories (or files) of the module root dir changed after t, so a test
// can rebuild a binary such as bin/caddy only when its sources moved on.
func SourcesNewerThan(dir string, t time.Time, paths ...string) bool {
	newer := false
	for _, p := range paths {
		_ = filepath.WalkDir(filepath.Join(dir, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			if info, err := d.Info(); err == nil && info.ModTime().After(t) {
				newer = true
				return fs.SkipAll
			}
			return nil
		})
	}
	return newer
}
