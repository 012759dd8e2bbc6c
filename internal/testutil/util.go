package testutil

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pollInterval is how often WaitFor evaluates its condition.
const pollInterval = 20 * time.Millisecond

var (
	portsMu sync.Mutex
	given   = map[int]bool{} // ports handed out in this process, never handed out twice
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and that this process has
// not handed out before.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testutil: listen for a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		portsMu.Lock()
		dup := given[port]
		given[port] = true
		portsMu.Unlock()
		if !dup {
			return port
		}
	}
	t.Fatalf("testutil: no fresh free port after 100 tries")
	return 0
}

// WaitFor polls cond every 20 ms until it returns true, and fails the test with msg when timeout
// passes first. cond runs on the calling goroutine.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("testutil: timed out after %v waiting for %s", timeout, msg)
	}
}

// Poll calls cond every 20 ms until it returns true (result true) or timeout passes (false).
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// tWriter hands each Write to t.Log, and drops writes once the test has finished (t.Log would
// panic then).
type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// NewLogHandler returns a slog text handler that writes each record to t.Log at level and above.
// Records logged after the test ended are dropped.
func NewLogHandler(t testing.TB, level slog.Leveler) slog.Handler {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
}

// Logger returns a debug-level logger writing to t.Log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(NewLogHandler(t, slog.LevelDebug))
}

// SeedEnv is the environment variable that fixes the seed of Rand.
const SeedEnv = "SKIFF_TEST_SEED"

// Seed returns the seed from SKIFF_TEST_SEED, or one from the clock, and arranges for it to be
// logged if the test fails.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(SeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("testutil: %s=%q: want an unsigned integer", SeedEnv, s)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random seed: %s=%d", SeedEnv, seed)
		}
	})
	return seed
}

// Rand returns a generator seeded with Seed(t).
func Rand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := Seed(t)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Addr returns "127.0.0.1:port".
func Addr(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// tempDir is os.MkdirTemp that reports errors with the package prefix.
func tempDir(pattern string) (string, error) {
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", fmt.Errorf("testutil: temp dir: %w", err)
	}
	return d, nil
}
