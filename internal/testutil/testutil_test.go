package testutil

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

func TestFreePortDistinct(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p := FreePort(t)
		if p <= 0 || p > 65535 {
			t.Fatalf("FreePort = %d", p)
		}
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		seen[p] = true
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if !Poll(5*time.Second, func() bool { n++; return n == 3 }) {
		t.Fatal("Poll gave up on a condition that became true")
	}
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
	if Poll(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported true for a condition that never held")
	}
}

func TestTail(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"", 3, ""},
		{"x\n\n\n", 1, "x"},
	}
	for _, c := range cases {
		if got := Tail([]byte(c.in), c.n); got != c.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if got := modulePath(filepath.Join(root, "go.mod")); got != ModulePath {
		t.Fatalf("go.mod at %s declares %q", root, got)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testutil")); err != nil {
		t.Fatalf("root %s has no internal/testutil: %v", root, err)
	}
}

func TestModulePathSkipsOtherModules(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(p, []byte("// c\nmodule \"github.com/skiffmq/skiff/compat\"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := modulePath(p); got != "github.com/skiffmq/skiff/compat" {
		t.Fatalf("modulePath = %q", got)
	}
	if got := modulePath(filepath.Join(dir, "missing")); got != "" {
		t.Fatalf("modulePath of a missing file = %q", got)
	}
}

// recT records Log calls; everything else comes from the embedded real test.
type recT struct {
	testing.TB
	mu   sync.Mutex
	logs []string
}

func (r *recT) Log(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range args {
		r.logs = append(r.logs, a.(string))
	}
}

func TestLogHandler(t *testing.T) {
	r := &recT{TB: t}
	log := slog.New(NewLogHandler(r, slog.LevelInfo)).With("component", "test")
	log.Debug("hidden")
	log.Info("hello", "k", 7)
	if len(r.logs) != 1 {
		t.Fatalf("got %d log lines, want 1: %q", len(r.logs), r.logs)
	}
	for _, want := range []string{"msg=hello", "component=test", "k=7", "level=INFO"} {
		if !strings.Contains(r.logs[0], want) {
			t.Errorf("line %q lacks %q", r.logs[0], want)
		}
	}
}

func TestSeedFromEnv(t *testing.T) {
	t.Setenv(SeedEnv, "42")
	if got := Seed(t); got != 42 {
		t.Fatalf("Seed = %d, want 42", got)
	}
	a, b := Rand(t).Uint64(), Rand(t).Uint64()
	if a != b {
		t.Fatalf("two generators with the same seed differ: %d %d", a, b)
	}
}

func TestProcStopExitCodeAndEnv(t *testing.T) {
	// The script sets its SIGTERM trap (exit 0), then echoes its pid dir: the test signals only
	// after seeing the echo, so the trap is in place (with the echo first, a SIGTERM could land
	// before the trap and kill the shell: exit code -1, seen once in CI on 2026-12-04).
	p := Start(t, "/bin/sh", []string{"-c", `trap 'echo bye; exit 0' TERM; echo "pid dir: $SKIFF_PID_DIR"; while :; do sleep 0.05; done`}, nil)
	WaitFor(t, 10*time.Second, func() bool { return strings.Contains(p.Log(), "pid dir: ") }, "script output")
	if !strings.Contains(p.Log(), "pid dir: "+p.PidDir) || p.PidDir == "" {
		t.Fatalf("SKIFF_PID_DIR not passed: log %q, PidDir %q", p.Log(), p.PidDir)
	}
	if p.Exited() {
		t.Fatal("process exited early")
	}
	p.StopOK()
	if !strings.Contains(p.LogTail(1), "bye") {
		t.Fatalf("tail %q lacks the trap output", p.LogTail(1))
	}
}

func TestProcKill(t *testing.T) {
	p := Start(t, "/bin/sh", []string{"-c", "exec sleep 60"}, []string{"SKIFF_PID_DIR=/nonexistent"})
	if p.PidDir != "/nonexistent" {
		t.Fatalf("PidDir = %q, want the caller's", p.PidDir)
	}
	p.Kill()
	if !p.Exited() || p.ExitCode() != -1 {
		t.Fatalf("after Kill: exited %v code %d", p.Exited(), p.ExitCode())
	}
	if err := p.Signal(syscall.SIGTERM); err == nil {
		t.Fatal("Signal to an exited process returned nil")
	}
}

func TestProcExitCode(t *testing.T) {
	p := Start(t, "/bin/sh", []string{"-c", "echo out; echo err >&2; exit 3"}, nil)
	code, err := p.Wait(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	if log := p.Log(); !strings.Contains(log, "out") || !strings.Contains(log, "err") {
		t.Fatalf("log %q lacks stdout or stderr", log)
	}
}

func TestWriteConfigs(t *testing.T) {
	dir := t.TempDir()
	p, err := WriteNamesrvConfig(dir, 1234, NamesrvOptions{BrokerChannelExpiredTime: 3000, ScanNotActiveBrokerInterval: 500})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	for _, want := range []string{"listenPort = 1234\n", "brokerChannelExpiredTime = 3000\n", "scanNotActiveBrokerInterval = 500\n", `kvConfigPath = "` + filepath.Join(dir, "kv.json")} {
		if !strings.Contains(string(b), want) {
			t.Errorf("namesrv.toml lacks %q:\n%s", want, b)
		}
	}
	p, err = WriteBrokerConfig(dir, BrokerOptions{ClusterName: "c", BrokerName: "b", Port: 5, HaPort: 6,
		NamesrvAddr: "127.0.0.1:1;127.0.0.1:2", StoreDir: "/s", MappedFileSizeCommitLog: 1 << 20,
		RegisterNameServerPeriod: 10000, Extra: map[string]string{"zz": "1", "aa": `"x"`}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(p)
	for _, want := range []string{`brokerClusterName = "c"`, `namesrvAddr = "127.0.0.1:1;127.0.0.1:2"`, "listenPort = 5\n",
		"haListenPort = 6\n", "autoCreateTopicEnable = true\n", "mappedFileSizeCommitLog = 1048576\n",
		"registerNameServerPeriod = 10000\n", "aa = \"x\"\nzz = 1\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("broker.toml lacks %q:\n%s", want, b)
		}
	}
}

func TestCallAgainstFakeServer(t *testing.T) {
	// A one-shot server that first sends a request of its own, then answers.
	l, err := listenLocal()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := remoting.ReadCommand(c, 0)
		if err != nil {
			return
		}
		push, _ := remoting.NewRequest(remoting.NotifyConsumerIdsChanged, nil, nil).Encode()
		_, _ = c.Write(push)
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = []byte(`{"brokerAddrTable":{"b":{"brokerAddrs":{0:"127.0.0.1:10911"}}}}`)
		f, _ := resp.Encode()
		_, _ = c.Write(f)
	}()
	body, err := ClusterInfoBody(l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, `"127.0.0.1:10911"`) {
		t.Fatalf("body %q", body)
	}
}

func TestFakeServer(t *testing.T) {
	s := NewFakeServer(t)
	s.Handle(remoting.GetBrokerClusterInfo, remoting.Success, "", `{"x":1}`)
	body, err := ClusterInfoBody(s.Addr(), 5*time.Second)
	if err != nil || body != `{"x":1}` {
		t.Fatalf("ClusterInfoBody = %q, %v", body, err)
	}
	if _, err := Call(s.Addr(), remoting.NewRequest(remoting.GetRouteInfoByTopic, nil, nil), 100*time.Millisecond); err == nil {
		t.Fatal("unanswered request returned no error")
	}
	if n := len(s.Requests(remoting.GetRouteInfoByTopic)); n != 1 {
		t.Fatalf("recorded %d route requests", n)
	}
	if _, err := ClusterInfoBody(DeadAddr(t), time.Second); err == nil {
		t.Fatal("dead address answered")
	}
}

// TestStartNamesrvRetriesLostPort runs a stand-in for mqnamesrv that fails its first start with
// "address already in use" and listens on its configured port the second time.
func TestStartNamesrvRetriesLostPort(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3 for the stand-in server")
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "tried")
	script := filepath.Join(dir, "fake-namesrv")
	body := `#!/bin/sh
port=$(sed -n 's/^listenPort = //p' "$2")
if [ ! -e ` + marker + ` ]; then : > ` + marker + `; echo "listen on 127.0.0.1:$port: bind: address already in use" >&2; exit 1; fi
exec ` + py + ` -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', $port)); s.listen(); time.sleep(60)"
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	ns := StartNamesrv(t, script, NamesrvOptions{})
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the first attempt did not run")
	}
	if !dialable(ns.Addr) {
		t.Fatalf("%s not listening", ns.Addr)
	}
	ns.Kill()
}

func TestProxyForwardsCutsAndHeals(t *testing.T) {
	ln, err := listenLocal()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	p := StartProxy(t, "127.0.0.1:0", ln.Addr().String())
	echo := func() error {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err != nil {
			return err
		}
		if string(b) != "ping" {
			return fmt.Errorf("echo %q", b)
		}
		return nil
	}
	if err := echo(); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 1)
	if _, err := io.ReadFull(c, one); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(one); err == nil {
		t.Fatal("an open connection survived the cut")
	}
	if err := echo(); err == nil {
		t.Fatal("a new connection passed a cut proxy")
	}
	p.Heal()
	if err := echo(); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}
