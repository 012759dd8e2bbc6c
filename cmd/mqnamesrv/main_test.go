package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildBinary builds cmd/mqnamesrv once per test binary, named mqnamesrv so that
// bin/mqshutdown recognises the process.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mqnamesrv-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "mqnamesrv")
		cmd := exec.Command(goTool(), "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = errors.New(err.Error() + ": " + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return binPath
}

func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type daemonProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
	addr   string
	pidDir string
	port   int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNamesrv starts the binary with a fresh config on a free port and waits until it answers a
// route query. A port picked free can be taken before the daemon binds it: then the daemon exits
// with "address already in use" and is started again on a fresh port.
func startNamesrv(t *testing.T) *daemonProc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, lost := tryStartNamesrv(t, attempt < 5)
		if !lost {
			return p
		}
		t.Logf("mqnamesrv lost port %d to another process; retrying", p.port)
	}
}

// tryStartNamesrv is one attempt of startNamesrv; lost reports a lost port race (only when
// retry is set; otherwise that fails the test like any early exit).
func tryStartNamesrv(t *testing.T, retry bool) (_ *daemonProc, lost bool) {
	t.Helper()
	bin := buildBinary(t)
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := filepath.Join(dir, "namesrv.toml")
	text := "listenPort = " + strconv.Itoa(port) + "\nbindAddress = \"127.0.0.1\"\nkvConfigPath = \"" +
		filepath.Join(dir, "kv", "kvConfig.json") + "\"\n"
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &daemonProc{stderr: &syncBuffer{}, done: make(chan struct{}), pidDir: filepath.Join(dir, "run"), port: port,
		addr: "127.0.0.1:" + strconv.Itoa(port)}
	p.cmd = exec.Command(bin, "-c", cfgPath)
	p.cmd.Env = append(os.Environ(), "SKIFF_PID_DIR="+p.pidDir, "HOME="+dir)
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			if retry && strings.Contains(p.stderr.String(), "address already in use") {
				return p, true
			}
			t.Fatalf("mqnamesrv exited early: %v\n%s", p.err, p.stderr.String())
		default:
		}
		if code, err := routeQuery(p.addr, "NoSuchTopic"); err == nil {
			if code != 17 {
				t.Fatalf("route query for an unknown topic: code %d, want 17", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mqnamesrv did not answer within 60 s\n%s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(p.stderr.String(), "The Name Server boot success. serializeType=JSON, address=") {
		t.Fatalf("boot line missing:\n%s", p.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "kv", "logs", "namesrv.log")); err != nil {
		t.Fatalf("log file: %v", err)
	}
	return p, false
}

// routeQuery sends GET_ROUTEINFO_BY_TOPIC as the Go client does (JSON header) and returns the
// response code. It speaks the frame format directly so this test needs nothing but the binary.
func routeQuery(addr, topic string) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	hdr := []byte(`{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"` + topic + `"}}`)
	frame := make([]byte, 8, 8+len(hdr))
	binary.BigEndian.PutUint32(frame[0:], uint32(4+len(hdr)))
	binary.BigEndian.PutUint32(frame[4:], uint32(len(hdr)))
	frame = append(frame, hdr...)
	if _, err := conn.Write(frame); err != nil {
		return 0, err
	}
	var lens [8]byte
	if _, err := io.ReadFull(conn, lens[:]); err != nil {
		return 0, err
	}
	total := binary.BigEndian.Uint32(lens[0:])
	hl := binary.BigEndian.Uint32(lens[4:]) & 0xFFFFFF
	if total < 4 || hl > total-4 || total > 1<<20 {
		return 0, errors.New("bad response frame lengths")
	}
	rest := make([]byte, total-4)
	if _, err := io.ReadFull(conn, rest); err != nil {
		return 0, err
	}
	var h struct {
		Code   int   `json:"code"`
		Opaque int32 `json:"opaque"`
		Flag   int32 `json:"flag"`
	}
	if err := json.Unmarshal(rest[:hl], &h); err != nil {
		return 0, err
	}
	if h.Opaque != 1 || h.Flag&1 == 0 {
		return 0, errors.New("response does not match the request")
	}
	return h.Code, nil
}

func waitExit(t *testing.T, p *daemonProc) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("mqnamesrv did not exit\n%s", p.stderr.String())
	}
	if p.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

func TestDaemonNamesrvSIGTERMExitsZero(t *testing.T) {
	p := startNamesrv(t)
	pidFile := filepath.Join(p.pidDir, "mqnamesrv-"+strconv.Itoa(p.port)+".pid")
	b, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(p.cmd.Process.Pid) {
		t.Fatalf("pid file %q, %v (pid %d)", b, err, p.cmd.Process.Pid)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, p); code != 0 {
		t.Fatalf("exit code %d after SIGTERM\n%s", code, p.stderr.String())
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
	if !strings.Contains(p.stderr.String(), "The Name Server shutdown OK") {
		t.Fatalf("no shutdown line:\n%s", p.stderr.String())
	}
}

func TestDaemonNamesrvMqshutdown(t *testing.T) {
	p := startNamesrv(t)
	script, err := filepath.Abs(filepath.Join("..", "..", "bin", "mqshutdown"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script, "namesrv")
	cmd.Env = append(os.Environ(), "SKIFF_PID_DIR="+p.pidDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mqshutdown: %v\n%s", err, out)
	}
	pid := strconv.Itoa(p.cmd.Process.Pid)
	if !strings.Contains(string(out), "The mqnamesrv("+pid+") is running...") ||
		!strings.Contains(string(out), "Send shutdown request to mqnamesrv("+pid+") OK") {
		t.Fatalf("mqshutdown output:\n%s", out)
	}
	if code := waitExit(t, p); code != 0 {
		t.Fatalf("exit code %d after mqshutdown\n%s", code, p.stderr.String())
	}
	// Nothing left to stop.
	cmd = exec.Command("bash", script, "namesrv")
	cmd.Env = append(os.Environ(), "SKIFF_PID_DIR="+p.pidDir)
	out, err = cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "No mqnamesrv running.") {
		t.Fatalf("second mqshutdown: %v\n%s", err, out)
	}
}

func TestDaemonNamesrvBadConfigRefused(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	for text, want := range map[string]string{
		"listenPort = 9876\nlistenPrt = 1\n": "listenPrt",
		"listenPort = 99999\n":               "listenPort = 99999",
	} {
		cfgPath := filepath.Join(dir, "bad.toml")
		if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-c", cfgPath)
		cmd.Env = append(os.Environ(), "SKIFF_PID_DIR="+filepath.Join(dir, "run"), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Fatalf("%q: want non-zero exit, got %v\n%s", text, err, out)
		}
		if !strings.Contains(string(out), want) || !strings.Contains(string(out), cfgPath) {
			t.Fatalf("%q: message should name %q and the file:\n%s", text, want, out)
		}
	}
}

func TestDaemonNamesrvPrintAndCheck(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "n.toml")
	if err := os.WriteFile(cfgPath, []byte("listenPort = 19876\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"mqnamesrv", "-c", cfgPath, "-p"}, &out, &errb); code != 0 {
		t.Fatalf("-p exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "listenPort = 19876") || !strings.Contains(out.String(), "brokerChannelExpiredTime = 120000") {
		t.Fatalf("-p output:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"mqnamesrv", "--check", "-c", cfgPath}, &out, &errb); code != 0 || !strings.Contains(out.String(), "valid") {
		t.Fatalf("--check exit %d: %s %s", code, out.String(), errb.String())
	}
	if err := os.WriteFile(cfgPath, []byte("logLevel = \"chatty\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run([]string{"mqnamesrv", "--check", "-c", cfgPath}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "logLevel") {
		t.Fatalf("--check of a bad file: exit %d, stderr %s", code, errb.String())
	}
}
