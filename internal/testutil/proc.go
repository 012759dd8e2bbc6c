package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StopTimeout bounds how long Stop waits for a process to exit after SIGTERM, and how long the
// cleanup waits after SIGKILL.
const StopTimeout = 30 * time.Second

// ErrNotExited is returned when a process did not exit within the allowed time.
var ErrNotExited = errors.New("testutil: process did not exit")

// Proc is a process started by Start. Its methods are safe for concurrent use.
type Proc struct {
	Name    string // base name of the binary
	LogPath string // file receiving the process's stdout and stderr
	PidDir  string // SKIFF_PID_DIR of the process

	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped

	mu    sync.Mutex
	state *os.ProcessState
}

// Start runs bin with args. env entries ("K=V") are added to the test's environment;
// SKIFF_PID_DIR is set to a fresh temporary folder unless env sets it. stdout and stderr go to
// LogPath. When the test ends, a process still running is killed with SIGKILL and reaped; when the
// test failed, the tail of its log is printed with t.Log.
func Start(t testing.TB, bin string, args []string, env []string) *Proc {
	t.Helper()
	logDir := t.TempDir()
	p := &Proc{Name: filepath.Base(bin), t: t, done: make(chan struct{})}
	p.PidDir = envValue(env, "SKIFF_PID_DIR")
	if p.PidDir == "" {
		p.PidDir = filepath.Join(logDir, "run")
		env = append(env, "SKIFF_PID_DIR="+p.PidDir)
	}
	p.LogPath = filepath.Join(logDir, p.Name+".log")
	f, err := os.Create(p.LogPath)
	if err != nil {
		t.Fatalf("testutil: create %s: %v", p.LogPath, err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = f
	p.cmd.Stderr = f
	if err := p.cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("testutil: start %s %v: %v", bin, args, err)
	}
	go func() {
		_ = p.cmd.Wait()
		_ = f.Close()
		p.mu.Lock()
		p.state = p.cmd.ProcessState
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(StopTimeout):
				t.Errorf("testutil: %s (pid %d) did not exit after SIGKILL", p.Name, p.Pid())
			}
		}
		if t.Failed() {
			t.Logf("--- last lines of %s (pid %d, %s) ---\n%s", p.Name, p.Pid(), p.LogPath, p.LogTail(60))
		}
	})
	return p
}

// envValue returns the value of key in env ("K=V" entries), "" if absent.
func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process (by PID). Sending to a process that has exited returns an error.
func (p *Proc) Signal(sig os.Signal) error {
	if p.Exited() {
		return fmt.Errorf("testutil: signal %v to %s (pid %d): %w", sig, p.Name, p.Pid(), os.ErrProcessDone)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("testutil: signal %v to %s (pid %d): %w", sig, p.Name, p.Pid(), err)
	}
	return nil
}

// Exited reports whether the process has exited and been reaped.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits up to timeout for the process to exit and returns its exit code (-1 when a signal
// killed it), or ErrNotExited.
func (p *Proc) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.ExitCode(), nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("%w: %s (pid %d) after %v", ErrNotExited, p.Name, p.Pid(), timeout)
	}
}

// ExitCode is the exit code once the process has exited (-1 when killed by a signal, or still
// running).
func (p *Proc) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		return -1
	}
	return p.state.ExitCode()
}

// Stop sends SIGTERM, waits up to StopTimeout and returns the exit code. A process that does not
// exit in time fails the test (and is killed by the cleanup).
func (p *Proc) Stop() int {
	p.t.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil && !p.Exited() {
		p.t.Fatalf("%v", err)
	}
	code, err := p.Wait(StopTimeout)
	if err != nil {
		p.t.Fatalf("%v", err)
	}
	return code
}

// StopOK is Stop that fails the test unless the exit code is 0.
func (p *Proc) StopOK() {
	p.t.Helper()
	if code := p.Stop(); code != 0 {
		p.t.Fatalf("testutil: %s (pid %d) exited with code %d after SIGTERM, want 0\n%s",
			p.Name, p.Pid(), code, p.LogTail(40))
	}
}

// Kill sends SIGKILL and waits for the process to be reaped.
func (p *Proc) Kill() {
	p.t.Helper()
	if err := p.Signal(syscall.SIGKILL); err != nil && !p.Exited() {
		p.t.Fatalf("%v", err)
	}
	if _, err := p.Wait(StopTimeout); err != nil {
		p.t.Fatalf("%v", err)
	}
}

// LogTail returns the last n lines of the process's output.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.LogPath, err)
	}
	return Tail(b, n)
}

// Log returns the whole output so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Tail returns the last n lines of b.
func Tail(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
