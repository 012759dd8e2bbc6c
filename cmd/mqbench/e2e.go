package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
	"github.com/skiffmq/skiff/internal/remoting/server/baseline"
)

// e2eCommand is `mqbench e2e`: the end-to-end benchmark of issue 11. It starts a name server and
// a broker from the binaries in --bin (build/ by default), runs the SDK against them and prints
// one table. Every row reports msg/s, ack p50/p99 and the broker's CPU per message, read from
// /proc/<pid>/stat (utime+stime, clock ticks of 10 ms) before and after the row.
func e2eCommand() *cli.Command {
	return &cli.Command{
		Name:  "e2e",
		Usage: "start a name server and a broker from build/ and measure publish, consume and a baseline server",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bin", Value: "build", Usage: "folder holding mqnamesrv and mqbroker"},
			&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Value: 10 * time.Second, Usage: "length of each publish row"},
			&cli.IntFlag{Name: "size", Aliases: []string{"s"}, Value: 1024, Usage: "message body size in bytes"},
			&cli.IntFlag{Name: "producers", Value: 4, Usage: "producers in the async rows (one connection each)"},
			&cli.IntFlag{Name: "inflight", Value: 256, Usage: "async sends in flight per producer"},
			&cli.StringFlag{Name: "official", Usage: "binary of compat/cmd/officialbench (the official Go client); default <bin>/officialbench when present"},
			&cli.StringFlag{Name: "perf", Usage: "record `perf record -g` of the broker during the async publish row into this file"},
			&cli.StringFlag{Name: "perf-sync", Usage: "record `perf record -g` of the broker during the SYNC_FLUSH publish row into this file"},
			&cli.StringFlag{Name: "perf-syncmaster", Usage: "record `perf record -g` of the master broker during the SYNC_MASTER publish row into this file"},
			&cli.StringFlag{Name: "only", Usage: "comma-separated rows to run (async,one,consume,official,sync,baseline; on request only: syncmaster,asyncmaster,aclon); default all but the on-request rows"},
			&cli.StringFlag{Name: "ha-flush", Value: "ASYNC_FLUSH", Usage: "flushDiskType of the master and slave in the syncmaster and asyncmaster rows"},
			&cli.BoolFlag{Name: "json", Usage: "print the rows as JSON too"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the temporary folder (logs, stores)"},
		},
		Action: e2eRun,
	}
}

// baselineCommand runs the baseline server in its own process, so its CPU can be read like the
// broker's.
func baselineCommand() *cli.Command {
	return &cli.Command{
		Name:   "baseline-server",
		Usage:  "serve the fixed-SEND_OK baseline server on --addr until SIGTERM (used by e2e)",
		Hidden: true,
		Flags:  []cli.Flag{&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "listen address"}},
		Action: func(c *cli.Context) error {
			s, err := baseline.Start(c.String("addr"))
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, "baseline listening on", c.String("addr"))
			<-c.Context.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return s.Stop(ctx)
		},
	}
}

// Row is one line of the e2e table.
type Row struct {
	Name       string  `json:"name"`
	Messages   int64   `json:"messages"`
	Failures   int64   `json:"failures"`
	MsgPerSec  float64 `json:"msgPerSec"`
	P50us      float64 `json:"p50Us"`
	P99us      float64 `json:"p99Us"`
	ServerCPU  float64 `json:"serverCpuUsPerMsg"` // broker (or baseline server) CPU µs per message
	ServerName string  `json:"server"`
	SlaveCPU   float64 `json:"slaveCpuUsPerMsg,omitempty"` // the slave's CPU µs per message (replicated rows)
	// PrefaultCPU is the part of ServerCPU the broker's kernel spent pre-faulting fresh page-cache
	// pages for new data (skiff_store_prefault_cpu_seconds_total), µs per message.
	PrefaultCPU float64 `json:"prefaultCpuUsPerMsg,omitempty"`
	// LoadCPU is the CPU µs per message of the load (this process for the SDK rows, the
	// officialbench process for the official client's row): what the other side of the 2 cores costs.
	LoadCPU float64 `json:"loadCpuUsPerMsg,omitempty"`
	Note    string  `json:"note,omitempty"`
}

type e2e struct {
	c      *cli.Context
	dir    string
	bin    string
	size   int
	dur    time.Duration
	procs  []*exec.Cmd
	stderr io.Writer
	// slavePid, when not 0, is a slave broker whose CPU publish measures too (replicated rows).
	slavePid int
	// probe, when set, runs once in the middle of publish's timed part; its text goes to the note.
	probe func() string
	// metrics maps a broker's pid to its /metrics URL (startBrokerAs).
	metrics map[int]string
	// producerOpts are added to the options of publish's producers (the ACL rows' credentials).
	producerOpts []producer.Option
}

func e2eRun(c *cli.Context) error {
	bin, err := filepath.Abs(c.String("bin"))
	if err != nil {
		return err
	}
	for _, b := range []string{"mqnamesrv", "mqbroker"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("%s not found in %s (run make build): %w", b, bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "mqbench-e2e-")
	if err != nil {
		return err
	}
	e := &e2e{c: c, dir: dir, bin: bin, size: c.Int("size"), dur: c.Duration("duration"), stderr: c.App.ErrWriter}
	defer func() {
		e.stopAll()
		if c.Bool("keep") {
			fmt.Fprintln(e.stderr, "kept", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	}()
	only := map[string]bool{}
	for _, r := range strings.Split(c.String("only"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			only[r] = true
		}
	}
	want := func(r string) bool { return len(only) == 0 || only[r] }
	// The replicated rows start a master and a slave each: only when asked for.
	asked := func(r string) bool { return only[r] }
	official := c.String("official")
	if official == "" {
		if p := filepath.Join(bin, "officialbench"); fileExists(p) {
			official = p
		}
	}
	var rows []Row
	add := func(r Row, err error) error {
		if err != nil {
			return fmt.Errorf("row %q: %w", r.Name, err)
		}
		rows = append(rows, r)
		fmt.Fprintf(e.stderr, "done: %+v\n", r)
		return nil
	}

	ns, nsAddr, err := e.startNamesrv()
	if err != nil {
		return err
	}
	_ = ns
	np, inflight := c.Int("producers"), c.Int("inflight")
	if want("async") || want("one") || want("consume") || want("official") {
		br, err := e.startBroker("bench-async", nsAddr, "ASYNC_FLUSH")
		if err != nil {
			return err
		}
		topic := "BenchAsync"
		if want("async") {
			var stopPerf func()
			if p := c.String("perf"); p != "" {
				stopPerf = e.perf(br.Process.Pid, p)
			}
			r, err := e.publish(fmt.Sprintf("SDK async publish (%d producers x %d in flight)", np, inflight), nsAddr, topic, np, inflight, br.Process.Pid)
			if stopPerf != nil {
				stopPerf()
			}
			if err := add(r, err); err != nil {
				return err
			}
		}
		if want("one") {
			r, err := e.publish("SDK one send in flight", nsAddr, "BenchOne", 1, 0, br.Process.Pid)
			if err := add(r, err); err != nil {
				return err
			}
		}
		if want("consume") {
			r, err := e.consume(nsAddr, topic, br.Process.Pid)
			if err := add(r, err); err != nil {
				return err
			}
		}
		if want("official") && official != "" {
			r, err := e.official(official, nsAddr, "BenchOfficial", np, inflight, br.Process.Pid)
			if err := add(r, err); err != nil {
				return err
			}
		}
		if err := e.stop(br); err != nil {
			return err
		}
	}
	if want("sync") {
		br, err := e.startBroker("bench-sync", nsAddr, "SYNC_FLUSH")
		if err != nil {
			return err
		}
		var stopPerf func()
		if p := c.String("perf-sync"); p != "" {
			stopPerf = e.perf(br.Process.Pid, p)
		}
		r, err := e.publish(fmt.Sprintf("SDK async publish, SYNC_FLUSH (%d x %d)", np, inflight), nsAddr, "BenchSync", np, inflight, br.Process.Pid)
		if stopPerf != nil {
			stopPerf()
		}
		if err := add(r, err); err != nil {
			return err
		}
		if err := e.stop(br); err != nil {
			return err
		}
	}
	for _, hr := range []struct{ row, role string }{{"asyncmaster", "ASYNC_MASTER"}, {"syncmaster", "SYNC_MASTER"}} {
		if !asked(hr.row) {
			continue
		}
		r, err := e.replicated(hr.role, c.String("ha-flush"), nsAddr, np, inflight)
		if err := add(r, err); err != nil {
			return err
		}
	}
	if asked("aclon") {
		for _, r := range e.aclPair(nsAddr, np, inflight) {
			if err := add(r.row, r.err); err != nil {
				return err
			}
		}
	}
	if want("baseline") {
		addr := freeAddr()
		self, err := os.Executable()
		if err != nil {
			return err
		}
		bs, err := e.start("baseline", self, "baseline-server", "--addr", addr)
		if err != nil {
			return err
		}
		if err := waitDial(addr, 10*time.Second); err != nil {
			return err
		}
		r, err := e.publish(fmt.Sprintf("baseline server, SDK async publish (%d x %d)", np, inflight), addr, "BenchBaseline", np, inflight, bs.Process.Pid)
		r.ServerName = "baseline"
		if err := add(r, err); err != nil {
			return err
		}
		// The floor of the one-send-in-flight row: the same SDK and framework, no broker work.
		r, err = e.publish("baseline server, SDK one send in flight", addr, "BenchBaselineOne", 1, 0, bs.Process.Pid)
		r.ServerName = "baseline"
		if err := add(r, err); err != nil {
			return err
		}
	}
	printRows(c.App.Writer, rows)
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	return nil
}

func printRows(w io.Writer, rows []Row) {
	fmt.Fprintf(w, "| %-52s | %10s | %9s | %9s | %15s | %18s | %15s |\n", "row", "msg/s", "p50 µs", "p99 µs", "server CPU µs/msg", "of which pre-fault", "load CPU µs/msg")
	fmt.Fprintf(w, "|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 54), strings.Repeat("-", 12), strings.Repeat("-", 11), strings.Repeat("-", 11), strings.Repeat("-", 19), strings.Repeat("-", 20), strings.Repeat("-", 17))
	var base, async, syncFlush, syncMaster, asyncMaster, one, baseOne float64
	var aclOff, aclOn Row
	for _, r := range rows {
		prefault := "-"
		if r.PrefaultCPU > 0 {
			prefault = fmt.Sprintf("%.2f", r.PrefaultCPU)
		}
		fmt.Fprintf(w, "| %-52s | %10.0f | %9.0f | %9.0f | %17.2f | %18s | %15.2f |\n", r.Name, r.MsgPerSec, r.P50us, r.P99us, r.ServerCPU, prefault, r.LoadCPU)
		switch {
		case r.ServerName == "baseline" && strings.Contains(r.Name, "one send"):
			baseOne = r.P50us
		case r.ServerName == "baseline":
			base = r.MsgPerSec
		case strings.HasPrefix(r.Name, "SDK one send"):
			one = r.P50us
		case strings.HasPrefix(r.Name, "SDK async publish (") && async == 0:
			async = r.MsgPerSec
		case strings.HasPrefix(r.Name, "SDK async publish, SYNC_FLUSH"):
			syncFlush = r.MsgPerSec
		case strings.HasPrefix(r.Name, "SDK async publish, SYNC_MASTER"):
			syncMaster = r.MsgPerSec
		case strings.HasPrefix(r.Name, "SDK async publish, ASYNC_MASTER"):
			asyncMaster = r.MsgPerSec
		case strings.HasPrefix(r.Name, aclOffRow):
			aclOff = r
		case strings.HasPrefix(r.Name, aclOnRow):
			aclOn = r
		}
	}
	if base > 0 && async > 0 {
		fmt.Fprintf(w, "Skiff async publish / baseline server: %.2f\n", async/base)
	}
	if one > 0 && baseOne > 0 {
		fmt.Fprintf(w, "one send in flight, p50: Skiff %.0f µs, baseline server %.0f µs (the SDK, framework and machine floor)\n", one, baseOne)
	}
	if async > 0 && syncFlush > 0 {
		fmt.Fprintf(w, "SYNC_FLUSH / ASYNC_FLUSH async publish: %.2f\n", syncFlush/async)
	}
	if asyncMaster > 0 && syncMaster > 0 {
		fmt.Fprintf(w, "SYNC_MASTER / ASYNC_MASTER async publish: %.2f\n", syncMaster/asyncMaster)
	}
	if aclOn.MsgPerSec > 0 && aclOff.MsgPerSec > 0 {
		fmt.Fprintf(w, "ACL on / ACL off async publish: %.2f (target >= 0.9)", aclOn.MsgPerSec/aclOff.MsgPerSec)
		// CPU per message of broker and load together: what a CPU-bound machine's throughput
		// follows, steadier than msg/s on a shared one.
		if on := aclOn.ServerCPU + aclOn.LoadCPU; on > 0 {
			off := aclOff.ServerCPU + aclOff.LoadCPU
			fmt.Fprintf(w, "; CPU per message, broker + load, off / on: %.2f (%.2f / %.2f µs; broker +%.2f, load +%.2f)",
				off/on, off, on, aclOn.ServerCPU-aclOff.ServerCPU, aclOn.LoadCPU-aclOff.LoadCPU)
			// The same without the broker's pre-fault: it is paid per page of the commit log, not
			// per message, and the second broker of the pair (ACL on) pays more for it on this VM
			// (memory the first one freed goes back to the host), which is no cost of the ACL.
			if aclOn.PrefaultCPU > 0 || aclOff.PrefaultCPU > 0 {
				offNP, onNP := off-aclOff.PrefaultCPU, on-aclOn.PrefaultCPU
				fmt.Fprintf(w, "; without pre-fault: %.2f (%.2f / %.2f µs; broker +%.2f)",
					offNP/onNP, offNP, onNP, (aclOn.ServerCPU-aclOn.PrefaultCPU)-(aclOff.ServerCPU-aclOff.PrefaultCPU))
			}
		}
		fmt.Fprintln(w)
	}
	if aclOn.MsgPerSec > 0 && async > 0 {
		fmt.Fprintf(w, "ACL on / async row: %.2f\n", aclOn.MsgPerSec/async)
	}
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Name, r.Note)
		}
	}
	for _, r := range rows {
		if r.Failures > 0 {
			fmt.Fprintf(w, "%s: %d failures\n", r.Name, r.Failures)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// freeAddr returns 127.0.0.1:<a port free right now>.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

// freePorts returns a base port p with p..p+3 free (broker listen, HA, spare, HTTP).
func freePorts() int {
	for range 50 {
		a := freeAddr()
		_, ps, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(ps)
		if p == 0 || p+3 > 65535 {
			continue
		}
		ok := true
		for i := 1; i <= 3; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+i))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p
		}
	}
	return 0
}

func waitDial(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept connections after %v", addr, d)
}

func (e *e2e) start(name, bin string, args ...string) (*exec.Cmd, error) {
	logf, err := os.Create(filepath.Join(e.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "SKIFF_PID_DIR="+filepath.Join(e.dir, name+"-run"))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	e.procs = append(e.procs, cmd)
	fmt.Fprintf(e.stderr, "started %s pid %d (log %s)\n", name, cmd.Process.Pid, logf.Name())
	return cmd, nil
}

func (e *e2e) stop(cmd *exec.Cmd) error {
	if cmd.ProcessState != nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("pid %d did not stop within 30 s of SIGTERM; killed", cmd.Process.Pid)
	}
}

func (e *e2e) stopAll() {
	for i := len(e.procs) - 1; i >= 0; i-- {
		_ = e.stop(e.procs[i])
	}
}

func (e *e2e) startNamesrv() (*exec.Cmd, string, error) {
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	d := filepath.Join(e.dir, "namesrv")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, "", err
	}
	conf := fmt.Sprintf("listenPort = %s\nbindAddress = \"127.0.0.1\"\nkvConfigPath = %q\nlogLevel = \"warn\"\n", port, filepath.Join(d, "kv.json"))
	path := filepath.Join(d, "namesrv.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	cmd, err := e.start("namesrv", filepath.Join(e.bin, "mqnamesrv"), "-c", path)
	if err != nil {
		return nil, "", err
	}
	return cmd, addr, waitDial(addr, 20*time.Second)
}

func (e *e2e) startBroker(name, nsAddr, flush string) (*exec.Cmd, error) {
	cmd, _, err := e.startBrokerAs(brokerSpec{name: name, brokerName: name, role: "ASYNC_MASTER", flush: flush}, nsAddr)
	return cmd, err
}

// brokerSpec is one broker process of the benchmark.
type brokerSpec struct {
	name       string // process and folder name
	brokerName string
	id         int    // brokerId: 0 master, 1 slave
	role       string // ASYNC_MASTER, SYNC_MASTER, SLAVE
	flush      string
	haMaster   string // a slave's master HA address
	aclFile    string // when set: aclEnable with this plain_acl.yml
}

// startBrokerAs starts a broker on free ports with its own store folder and returns it with its
// base port (listen port; HA is port+1).
func (e *e2e) startBrokerAs(spec brokerSpec, nsAddr string) (*exec.Cmd, int, error) {
	port := freePorts()
	d := filepath.Join(e.dir, spec.name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, 0, err
	}
	conf := fmt.Sprintf(`brokerClusterName = "BenchCluster"
brokerName = %q
brokerId = %d
brokerRole = %q
flushDiskType = %q
namesrvAddr = %q
brokerIP1 = "127.0.0.1"
bindAddress = "127.0.0.1"
listenPort = %d
haListenPort = %d
httpPort = %d
storePathRootDir = %q
autoCreateTopicEnable = true
logLevel = "warn"
`, spec.brokerName, spec.id, spec.role, spec.flush, nsAddr, port, port+1, port+3, filepath.Join(d, "store"))
	if spec.haMaster != "" {
		conf += fmt.Sprintf("haMasterAddress = %q\n", spec.haMaster)
	}
	if spec.aclFile != "" {
		conf += fmt.Sprintf("aclEnable = true\naclFile = %q\n", spec.aclFile)
	}
	path := filepath.Join(d, "broker.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, 0, err
	}
	cmd, err := e.start(spec.name, filepath.Join(e.bin, "mqbroker"), "-c", path)
	if err != nil {
		return nil, 0, err
	}
	if e.metrics == nil {
		e.metrics = map[int]string{}
	}
	e.metrics[cmd.Process.Pid] = fmt.Sprintf("http://127.0.0.1:%d/metrics", port+3)
	return cmd, port, waitDial(fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second)
}

// replicated is the SYNC_MASTER or ASYNC_MASTER row: a master of role and a slave (same
// brokerName, brokerId 1, its own store and ports, haMasterAddress set), started from --bin;
// the row is timed only once the master counts the slave (runtime info haSlaves). The note
// gives the slave's CPU per message and the replication lag at the end of the row.
func (e *e2e) replicated(role, flush, nsAddr string, np, inflight int) (Row, error) {
	name := "bench-" + strings.ToLower(strings.ReplaceAll(role, "_", ""))
	row := Row{Name: fmt.Sprintf("SDK async publish, %s + slave (%d x %d)", role, np, inflight), ServerName: "broker"}
	master, port, err := e.startBrokerAs(brokerSpec{name: name + "-m", brokerName: name, role: role, flush: flush}, nsAddr)
	if err != nil {
		return row, err
	}
	slave, _, err := e.startBrokerAs(brokerSpec{name: name + "-s", brokerName: name, id: 1, role: "SLAVE", flush: flush,
		haMaster: fmt.Sprintf("127.0.0.1:%d", port+1)}, nsAddr)
	if err != nil {
		return row, err
	}
	adm, err := admin.New(admin.WithNameServers([]string{nsAddr}), admin.WithTimeout(3*time.Second))
	if err != nil {
		return row, err
	}
	defer adm.Close()
	masterAddr := fmt.Sprintf("127.0.0.1:%d", port)
	info := func() map[string]string {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		t, err := adm.BrokerRuntimeInfo(ctx, masterAddr)
		if err != nil {
			return nil
		}
		return t
	}
	deadline := time.Now().Add(60 * time.Second)
	for info()["haSlaves"] == "" {
		if time.Now().After(deadline) {
			return row, fmt.Errorf("the slave did not connect to %s within 60 s", masterAddr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var stopPerf func()
	if p := e.c.String("perf-syncmaster"); p != "" && role == "SYNC_MASTER" {
		stopPerf = e.perf(master.Process.Pid, p)
	}
	e.slavePid = slave.Process.Pid
	e.probe = func() string {
		return goroutineProbe(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", port+3), filepath.Join(e.dir, name+"-goroutines.txt"))
	}
	r, err := e.publish(row.Name, nsAddr, "Bench"+strings.ReplaceAll(role, "_", ""), np, inflight, master.Process.Pid)
	e.slavePid, e.probe = 0, nil
	if stopPerf != nil {
		stopPerf()
	}
	if err != nil {
		return r, err
	}
	t := info()
	maxOff, _ := strconv.ParseInt(t["commitLogMaxOffset"], 10, 64)
	push, _ := strconv.ParseInt(t["haPushMaxOffset"], 10, 64)
	r.Note = fmt.Sprintf("%s; slave CPU %.2f µs/msg; replication lag at the end %d bytes; mid-row %s", flush, r.SlaveCPU, maxOff-push, r.Note)
	if err := e.stop(master); err != nil {
		return r, err
	}
	return r, e.stop(slave)
}

// goroutineProbe reads the broker's goroutine profile (debug=1: identical stacks grouped, "N @
// ..." per group) and reports how many goroutines exist and how many are send workers parked
// in the HA master's ack wait (ha.(*Master).WaitAck: one per SYNC_MASTER send in flight before
// the waits were registered with AfterAck).
// The profile is kept in save (see --keep).
func goroutineProbe(url, save string) string {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return "goroutine profile: " + err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "goroutine profile: " + err.Error()
	}
	_ = os.WriteFile(save, b, 0o644)
	total, parked := 0, 0
	for _, block := range strings.Split(string(b), "\n\n") {
		for _, line := range strings.Split(block, "\n") {
			num, rest, ok := strings.Cut(line, " @ ")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || rest == "" {
				continue // the "goroutine profile: total N" line, a frame
			}
			total += n
			if strings.Contains(block, "ha.(*Master).WaitAck") {
				parked += n
			}
			break
		}
	}
	return fmt.Sprintf("goroutines %d, parked in ha.(*Master).WaitAck %d", total, parked)
}

// brokerMetrics are the unlabelled metrics of the broker pid's /metrics, read once; nil for a
// process that is not a broker of this run (or when the read fails).
func (e *e2e) brokerMetrics(pid int) map[string]float64 {
	url, ok := e.metrics[pid]
	if !ok {
		return nil
	}
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, found := strings.Cut(line, " ")
		if !found || strings.ContainsAny(name, "{#") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			m[name] = f
		}
	}
	return m
}

// perf starts `perf record -g -p pid -o out` and returns the function that stops it.
func (e *e2e) perf(pid int, out string) func() {
	cmd := exec.Command("perf", "record", "-g", "-p", strconv.Itoa(pid), "-o", out)
	cmd.Stdout, cmd.Stderr = e.stderr, e.stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(e.stderr, "perf not started:", err)
		return func() {}
	}
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}
}

// cpuTicks returns utime+stime of pid in clock ticks (USER_HZ, 100 on Linux).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, nil
}

const userHZ = 100

type cpuMeter struct {
	pid   int
	start int64
}

func startCPU(pid int) cpuMeter { t, _ := cpuTicks(pid); return cpuMeter{pid: pid, start: t} }

// usPerMsg is the CPU the process used since startCPU, in µs per message.
func (m cpuMeter) usPerMsg(n int64) float64 {
	t, err := cpuTicks(m.pid)
	if err != nil || n == 0 {
		return 0
	}
	return float64(t-m.start) * (1e6 / userHZ) / float64(n)
}

// latencies keeps every ack latency of a row.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.all = append(l.all, d); l.mu.Unlock() }

func (l *latencies) pct(p float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return 0
	}
	sort.Slice(l.all, func(i, j int) bool { return l.all[i] < l.all[j] })
	return float64(l.all[int(float64(len(l.all)-1)*p)].Nanoseconds()) / 1000
}

// publish runs np producers for the row's duration, each with inflight async sends in flight
// (inflight 0: one sync send at a time), and measures pid's CPU over the timed part.
func (e *e2e) publish(name, nsAddr, topic string, np, inflight, pid int) (Row, error) {
	row := Row{Name: name, ServerName: "broker"}
	body := make([]byte, e.size)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	ps := make([]*producer.Producer, np)
	for i := range ps {
		opts := []producer.Option{producer.WithNameServers(nsAddr), producer.WithGroup("MQBENCH_E2E"),
			producer.WithInstanceName(fmt.Sprintf("e2e-%d-%d", os.Getpid(), i)),
			producer.WithCompression(0, 5), producer.WithSendTimeout(10 * time.Second)}
		p, err := producer.New(append(opts, e.producerOpts...)...)
		if err != nil {
			return row, err
		}
		if err := p.Start(); err != nil {
			return row, err
		}
		defer p.Shutdown(context.Background())
		ps[i] = p
	}
	// Warm up: routes, connections, topic auto-creation, a short burst at full load.
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range ps {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := p.Send(ctx, client.NewMessage(topic, body))
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return row, fmt.Errorf("warm-up send: %w", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	run := func(d time.Duration, lat *latencies) (ok, failed int64) {
		var okN, failN atomic.Int64
		stopAt := time.Now().Add(d)
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Add(1)
			go func(p *producer.Producer) {
				defer wg.Done()
				if inflight <= 0 {
					for time.Now().Before(stopAt) {
						t0 := time.Now()
						_, err := p.Send(context.Background(), client.NewMessage(topic, body))
						if err != nil {
							failN.Add(1)
							continue
						}
						okN.Add(1)
						lat.add(time.Since(t0))
					}
					return
				}
				sem := make(chan struct{}, inflight)
				var pending sync.WaitGroup
				for time.Now().Before(stopAt) {
					sem <- struct{}{}
					pending.Add(1)
					t0 := time.Now()
					err := p.SendAsync(context.Background(), client.NewMessage(topic, body), func(_ *client.SendResult, err error) {
						if err != nil {
							failN.Add(1)
						} else {
							okN.Add(1)
							lat.add(time.Since(t0))
						}
						<-sem
						pending.Done()
					})
					if err != nil {
						failN.Add(1)
						<-sem
						pending.Done()
					}
				}
				pending.Wait()
			}(p)
		}
		wg.Wait()
		return okN.Load(), failN.Load()
	}
	run(min(2*time.Second, e.dur/4), &latencies{})
	lat := &latencies{}
	m0 := e.brokerMetrics(pid) // read before the CPU window opens: the read costs the broker CPU
	cpu := startCPU(pid)
	load := startCPU(os.Getpid()) // the SDK load runs in this process
	var slaveCPU cpuMeter
	if e.slavePid != 0 {
		slaveCPU = startCPU(e.slavePid)
	}
	probed := make(chan string, 1)
	if e.probe != nil {
		go func() { time.Sleep(e.dur / 2); probed <- e.probe() }()
	} else {
		probed <- ""
	}
	t0 := time.Now()
	ok, failed := run(e.dur, lat)
	elapsed := time.Since(t0)
	row.Note = <-probed
	row.ServerCPU = cpu.usPerMsg(ok)
	row.LoadCPU = load.usPerMsg(ok)
	if m1 := e.brokerMetrics(pid); m0 != nil && m1 != nil {
		const prefault, flushes, flushSum = "skiff_store_prefault_cpu_seconds_total", "skiff_commitlog_flush_seconds_count", "skiff_commitlog_flush_seconds_sum"
		if ok > 0 {
			row.PrefaultCPU = (m1[prefault] - m0[prefault]) * 1e6 / float64(ok)
		}
		if f := m1[flushes] - m0[flushes]; strings.Contains(name, "SYNC_FLUSH") && f > 0 {
			// Group commit: how many acknowledged messages each msync covered on average.
			row.Note = strings.TrimPrefix(row.Note+fmt.Sprintf("; %.0f msyncs/s, %.1f messages per msync, %.2f ms per msync",
				f/elapsed.Seconds(), float64(ok)/f, (m1[flushSum]-m0[flushSum])*1e3/f), "; ")
		}
	}
	if e.slavePid != 0 {
		row.SlaveCPU = slaveCPU.usPerMsg(ok)
	}
	row.Messages, row.Failures = ok, failed
	row.MsgPerSec = float64(ok) / elapsed.Seconds()
	row.P50us, row.P99us = lat.pct(0.5), lat.pct(0.99)
	return row, nil
}

// consume pulls every message of topic from its start with the SDK's pull consumer (one
// goroutine per queue, 32 per pull) and reports msg/s; latency is per pull request.
func (e *e2e) consume(nsAddr, topic string, pid int) (Row, error) {
	row := Row{Name: "SDK consume (pull, from start)", ServerName: "broker"}
	pc, err := consumer.NewPullConsumer("MQBENCH_E2E_"+strconv.FormatInt(time.Now().UnixNano(), 36), consumer.WithNameServers(nsAddr))
	if err != nil {
		return row, err
	}
	if err := pc.Start(); err != nil {
		return row, err
	}
	defer pc.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	qs, err := pc.Queues(ctx, topic)
	cancel()
	if err != nil {
		return row, err
	}
	type qr struct {
		q        client.MessageQueue
		min, max int64
	}
	var work []qr
	var total int64
	for _, q := range qs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		lo, err1 := pc.MinOffset(ctx, q)
		hi, err2 := pc.MaxOffset(ctx, q)
		cancel()
		if err1 != nil || err2 != nil {
			return row, errors.Join(err1, err2)
		}
		work = append(work, qr{q, lo, hi})
		total += hi - lo
	}
	lat := &latencies{}
	var got, failed atomic.Int64
	cpu := startCPU(pid)
	load := startCPU(os.Getpid()) // the SDK load runs in this process
	t0 := time.Now()
	stopAt := t0.Add(2 * time.Minute)
	var wg sync.WaitGroup
	for _, w := range work {
		wg.Add(1)
		go func(w qr) {
			defer wg.Done()
			for off := w.min; off < w.max && time.Now().Before(stopAt); {
				p0 := time.Now()
				res, err := pc.PullWait(context.Background(), w.q, "*", off, 32, time.Second)
				if err != nil {
					failed.Add(1)
					continue
				}
				lat.add(time.Since(p0))
				got.Add(int64(len(res.Messages)))
				if res.NextBeginOffset > off {
					off = res.NextBeginOffset
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(t0)
	row.ServerCPU = cpu.usPerMsg(got.Load())
	row.LoadCPU = load.usPerMsg(got.Load())
	row.Messages, row.Failures = got.Load(), failed.Load()
	row.MsgPerSec = float64(got.Load()) / elapsed.Seconds()
	row.P50us, row.P99us = lat.pct(0.5), lat.pct(0.99)
	row.Note = fmt.Sprintf("%d of %d messages; latency per pull of up to 32", got.Load(), total)
	return row, nil
}

// official runs the official Go client's async publish (compat/cmd/officialbench) and reads its
// JSON summary.
func (e *e2e) official(bin, nsAddr, topic string, np, inflight, pid int) (Row, error) {
	row := Row{Name: fmt.Sprintf("official Go client async publish (%d x %d)", np, inflight), ServerName: "broker"}
	args := []string{"-n", nsAddr, "-t", topic, "-s", strconv.Itoa(e.size), "-p", strconv.Itoa(np),
		"-i", strconv.Itoa(inflight), "-d", e.dur.String(), "-w", min(2*time.Second, e.dur/4).String()}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = e.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return row, err
	}
	if err := cmd.Start(); err != nil {
		return row, err
	}
	// The tool prints "measuring" when its warm-up is over and once more with the summary.
	dec := json.NewDecoder(stdout)
	var mark struct {
		Phase string `json:"phase"`
	}
	if err := dec.Decode(&mark); err != nil {
		_ = cmd.Wait()
		return row, fmt.Errorf("officialbench: %w", err)
	}
	cpu := startCPU(pid)
	load := startCPU(cmd.Process.Pid)
	var sum struct {
		Messages int64   `json:"messages"`
		Failures int64   `json:"failures"`
		MsgPerS  float64 `json:"msgPerSec"`
		P50us    float64 `json:"p50Us"`
		P99us    float64 `json:"p99Us"`
	}
	if err := dec.Decode(&sum); err != nil {
		_ = cmd.Wait()
		return row, fmt.Errorf("officialbench summary: %w", err)
	}
	row.ServerCPU = cpu.usPerMsg(sum.Messages)
	row.LoadCPU = load.usPerMsg(sum.Messages)
	if err := cmd.Wait(); err != nil {
		return row, fmt.Errorf("officialbench: %w", err)
	}
	row.Messages, row.Failures, row.MsgPerSec, row.P50us, row.P99us = sum.Messages, sum.Failures, sum.MsgPerS, sum.P50us, sum.P99us
	return row, nil
}

// The ACL rows' names (printRows finds them by prefix).
const (
	aclOffRow = "SDK async publish, ACL off"
	aclOnRow  = "SDK async publish, ACL on"
)

// aclRow is one row of aclPair with its error.
type aclRow struct {
	row Row
	err error
}

// aclPair is the ACL cost, end to end as users run it (--only aclon, on request only): the async
// row's load (np producers x inflight, the SDK's default binary headers) against two fresh
// brokers that differ only in aclEnable, one after the other: first one without ACL, then one
// with aclEnable and a plain_acl.yml whose account may publish to the row's topic, the producers
// signing every request with client.WithCredentials. Each broker is stopped before the next
// starts, and each row has its own topic, so a route never leads to the other broker. printRows
// gives ACL on / ACL off (and ACL on / the async row when it ran); the server CPU column is the
// broker's share of the cost (verification and permission check), the load CPU column the
// SDK's (signing).
func (e *e2e) aclPair(nsAddr string, np, inflight int) []aclRow {
	const accessKey, secretKey = "mqbenchAcl", "mqbench-acl-secret"
	aclFile := filepath.Join(e.dir, "plain_acl.yml")
	yml := "accounts:\n  - accessKey: " + accessKey + "\n    secretKey: " + secretKey +
		"\n    defaultTopicPerm: DENY\n    defaultGroupPerm: SUB\n    topicPerms: [BenchAclOn=PUB]\n"
	if err := os.WriteFile(aclFile, []byte(yml), 0o600); err != nil {
		return []aclRow{{Row{Name: aclOnRow}, err}}
	}
	var out []aclRow
	for _, side := range []struct {
		name, broker, topic, acl string
		opts                     []producer.Option
	}{
		{aclOffRow, "bench-acloff", "BenchAclOff", "", nil},
		{aclOnRow, "bench-aclon", "BenchAclOn", aclFile,
			[]producer.Option{producer.WithCredentials(client.Credentials{AccessKey: accessKey, SecretKey: secretKey})}},
	} {
		name := fmt.Sprintf("%s (%d x %d)", side.name, np, inflight)
		br, _, err := e.startBrokerAs(brokerSpec{name: side.broker, brokerName: side.broker, role: "ASYNC_MASTER",
			flush: "ASYNC_FLUSH", aclFile: side.acl}, nsAddr)
		if err != nil {
			return append(out, aclRow{Row{Name: name}, err})
		}
		e.producerOpts = side.opts
		r, err := e.publish(name, nsAddr, side.topic, np, inflight, br.Process.Pid)
		e.producerOpts = nil
		err = errors.Join(err, e.stop(br))
		out = append(out, aclRow{r, err})
		if err != nil {
			return out
		}
	}
	return out
}
