package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDaemonNotifyContextFirstSignalCancels(t *testing.T) {
	codes := make(chan int, 1)
	exit = func(code int) { codes <- code }
	ctx, stop := NotifyContext(context.Background(), nil)
	t.Cleanup(func() { stop(); exit = os.Exit })

	if ctx.Err() != nil {
		t.Fatal("context cancelled before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
	select {
	case c := <-codes:
		t.Fatalf("first signal must not exit, got exit(%d)", c)
	default:
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-codes:
		if c != 1 {
			t.Fatalf("second signal: exit code %d, want 1", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("second signal did not exit")
	}
}

func TestDaemonNotifyContextStopCancels(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	ctx, stop := NotifyContext(parent, slog.New(slog.DiscardHandler))
	stop()
	stop() // idempotent
	if ctx.Err() == nil {
		t.Fatal("stop did not cancel the context")
	}
	ctx2, stop2 := NotifyContext(parent, nil)
	defer stop2()
	cancelParent()
	<-ctx2.Done()
}

func TestDaemonPidFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	t.Setenv(PidDirEnv, dir)
	remove, err := WritePidFile("mqnamesrv", 9876)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mqnamesrv-9876.pid")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("content %q", b)
	}
	pid, err := ReadPidFile(path)
	if err != nil || pid != os.Getpid() {
		t.Fatalf("ReadPidFile = %d, %v", pid, err)
	}
	remove()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid file still there: %v", err)
	}
	remove()
}

func TestDaemonPidFileRemoveKeepsForeignPid(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(PidDirEnv, dir)
	remove, err := WritePidFile("mqbroker", 10911)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mqbroker-10911.pid")
	// Another process took the port over and wrote its own pid file.
	if err := os.WriteFile(path, []byte("12345\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	remove()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("foreign pid file removed: %v", err)
	}
}

func TestDaemonPidDirDefault(t *testing.T) {
	home := t.TempDir()
	t.Setenv(PidDirEnv, "")
	t.Setenv("HOME", home)
	p, err := PidFilePath("mqbroker", 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".skiff", "run", "mqbroker-1.pid"); p != want {
		t.Fatalf("got %s want %s", p, want)
	}
}

func TestDaemonReadPidFileBad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.pid")
	for _, c := range []string{"", "abc", "-4", "0"} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadPidFile(p); err == nil {
			t.Errorf("%q: want error", c)
		}
	}
}

func TestDaemonLockDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	unlock, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDir(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock()
	unlock2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func TestDaemonNewLogger(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a", "b", "namesrv.log")
	var stderr bytes.Buffer
	log, closer, err := NewLogger(file, "warn", &stderr)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden event")
	log.Warn("visible event", "component", "test", "n", 3)
	log.Error("second event")
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{string(b), stderr.String()} {
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("want 2 lines, got %q", out)
		}
		if !strings.Contains(lines[0], "visible event") || !strings.Contains(lines[0], "component=test") ||
			!strings.Contains(lines[1], "second event") {
			t.Fatalf("unexpected lines %q", lines)
		}
	}
}

func TestDaemonNewLoggerBadLevel(t *testing.T) {
	_, _, err := NewLogger("", "verbose", nil)
	if err == nil || !strings.Contains(err.Error(), "verbose") {
		t.Fatalf("got %v", err)
	}
}

func TestDaemonParseLevel(t *testing.T) {
	for name, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo,
		"warn": slog.LevelWarn, "Warning": slog.LevelWarn, "error": slog.LevelError} {
		got, err := ParseLevel(name)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", name, got, err)
		}
	}
}

func TestDaemonNewLoggerStderrOnly(t *testing.T) {
	var stderr bytes.Buffer
	log, closer, err := NewLogger("", "debug", &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	log.Debug("dbg")
	if !strings.Contains(stderr.String(), "dbg") {
		t.Fatalf("got %q", stderr.String())
	}
}
