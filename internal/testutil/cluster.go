package testutil

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// Default timeouts for start-up.
const (
	NamesrvStartTimeout = 20 * time.Second
	BrokerStartTimeout  = 40 * time.Second
)

// ErrUnexpectedResponse is returned by Call when the response does not match the request.
var ErrUnexpectedResponse = errors.New("testutil: unexpected response")

// Call sends req to addr on a new connection and reads the response, within timeout.
func Call(addr string, req *remoting.Command, timeout time.Duration) (*remoting.Command, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("testutil: dial %s: %w", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	frame, err := req.Encode()
	if err != nil {
		return nil, fmt.Errorf("testutil: encode request %d: %w", req.Code, err)
	}
	if _, err := conn.Write(frame); err != nil {
		return nil, fmt.Errorf("testutil: write to %s: %w", addr, err)
	}
	for {
		resp, err := remoting.ReadCommand(conn, 0)
		if err != nil {
			return nil, fmt.Errorf("testutil: read from %s: %w", addr, err)
		}
		if !resp.IsResponse() {
			continue // a request the server started; not ours
		}
		if resp.Opaque != req.Opaque {
			return nil, fmt.Errorf("%w: opaque %d, want %d", ErrUnexpectedResponse, resp.Opaque, req.Opaque)
		}
		return resp, nil
	}
}

// ClusterInfoBody asks the name server at addr for GET_BROKER_CLUSTER_INFO (106) and returns the
// raw body.
func ClusterInfoBody(addr string, timeout time.Duration) (string, error) {
	resp, err := Call(addr, remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil), timeout)
	if err != nil {
		return "", err
	}
	if resp.Code != remoting.Success {
		return "", fmt.Errorf("%w: code %d remark %q from %s", ErrUnexpectedResponse, resp.Code, resp.Remark, addr)
	}
	return string(resp.Body), nil
}

// RouteBody asks the name server at addr for GET_ROUTEINFO_BY_TOPIC (105) and returns the
// response code and body.
func RouteBody(addr, topic string, timeout time.Duration) (int32, string, error) {
	req := remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
	resp, err := Call(addr, req, timeout)
	if err != nil {
		return 0, "", err
	}
	return resp.Code, string(resp.Body), nil
}

// ListsBroker reports whether the name server at nsAddr lists brokerAddr in its cluster info.
func ListsBroker(nsAddr, brokerAddr string) bool {
	body, err := ClusterInfoBody(nsAddr, 2*time.Second)
	return err == nil && strings.Contains(body, strconv.Quote(brokerAddr))
}

// NamesrvOptions configure one name server.
type NamesrvOptions struct {
	Port                        int   // 0: FreePort
	BrokerChannelExpiredTime    int64 // ms; 0: server default (120000)
	ScanNotActiveBrokerInterval int64 // ms; 0: server default (10000)
	LogLevel                    string
	HTTPPort                    int               // httpPort (the dashboard, /metrics, /api); 0: off
	DashboardSampleInterval     int64             // ms; 0: server default (10000)
	Extra                       map[string]string // more TOML lines, key = raw TOML value
	// HTTP turns the HTTP server on, on a port picked free for each start attempt
	// (Namesrv.HTTPPort reports it); HTTPPort, when set, wins.
	HTTP bool
}

// Namesrv is a running mqnamesrv process.
type Namesrv struct {
	*Proc
	Port     int
	Addr     string // 127.0.0.1:Port
	Dir      string // holds namesrv.toml, kv.json and logs/
	Config   string // path of the TOML file
	HTTPPort int    // the HTTP port, 0 when off
}

// WriteNamesrvConfig writes dir/namesrv.toml for o and returns its path.
func WriteNamesrvConfig(dir string, port int, o NamesrvOptions) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "listenPort = %d\n", port)
	fmt.Fprintf(&b, "bindAddress = %q\n", "127.0.0.1")
	fmt.Fprintf(&b, "kvConfigPath = %q\n", filepath.Join(dir, "kv.json"))
	if o.BrokerChannelExpiredTime > 0 {
		fmt.Fprintf(&b, "brokerChannelExpiredTime = %d\n", o.BrokerChannelExpiredTime)
	}
	if o.ScanNotActiveBrokerInterval > 0 {
		fmt.Fprintf(&b, "scanNotActiveBrokerInterval = %d\n", o.ScanNotActiveBrokerInterval)
	}
	if o.LogLevel != "" {
		fmt.Fprintf(&b, "logLevel = %q\n", o.LogLevel)
	}
	if o.HTTPPort > 0 {
		fmt.Fprintf(&b, "httpPort = %d\n", o.HTTPPort)
	}
	if o.DashboardSampleInterval > 0 {
		fmt.Fprintf(&b, "dashboardSampleInterval = %d\n", o.DashboardSampleInterval)
	}
	keys := make([]string, 0, len(o.Extra))
	for k := range o.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, o.Extra[k])
	}
	path := filepath.Join(dir, "namesrv.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("testutil: write %s: %w", path, err)
	}
	return path, nil
}

// StartNamesrv starts bin (mqnamesrv) and waits until its port accepts connections. When the port
// was picked here (o.Port == 0) and another process took it first ("address already in use"),
// it retries with a fresh port, up to 3 times.
func StartNamesrv(t testing.TB, bin string, o NamesrvOptions) *Namesrv {
	t.Helper()
	// Retrying helps only when every port was picked here (a caller's fixed port would be
	// taken again); the HTTP port is picked anew on each attempt.
	autoPorts := o.Port == 0 && o.HTTPPort == 0
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		port := o.Port
		if port == 0 {
			port = FreePort(t)
		}
		oo := o
		if o.HTTP && o.HTTPPort == 0 {
			oo.HTTPPort = FreePort(t)
		}
		path, err := WriteNamesrvConfig(dir, port, oo)
		if err != nil {
			t.Fatal(err)
		}
		ns := &Namesrv{Port: port, Addr: Addr(port), Dir: dir, Config: path, HTTPPort: oo.HTTPPort}
		ns.Proc = Start(t, bin, []string{"-c", path}, nil)
		if autoPorts && attempt < 3 && lostPortRace(ns.Proc, func() bool { return dialable(ns.Addr) }) {
			t.Logf("testutil: mqnamesrv lost port %d to another process; retrying", port)
			continue
		}
		ns.WaitReady(t, NamesrvStartTimeout)
		return ns
	}
}

// dialable reports whether a TCP connection to addr succeeds.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// LostPortRace waits until ready() or the process exits, and reports whether it exited because
// a port it was given was taken in the meantime (then start it again on fresh ports).
func LostPortRace(p *Proc, ready func() bool) bool { return lostPortRace(p, ready) }

// lostPortRace waits until ready() or the process exits, and reports whether it exited because
// its port was taken.
func lostPortRace(p *Proc, ready func() bool) bool {
	Poll(BrokerStartTimeout, func() bool { return p.Exited() || ready() })
	return p.Exited() && strings.Contains(p.Log(), "address already in use")
}

// WaitReady waits until the name server's port accepts connections; it fails the test at once if
// the process exits.
func (ns *Namesrv) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, func() bool {
		if ns.Exited() {
			t.Fatalf("testutil: mqnamesrv on %s exited with code %d during start:\n%s", ns.Addr, ns.ExitCode(), ns.LogTail(30))
		}
		return dialable(ns.Addr)
	}, "mqnamesrv to accept connections on "+ns.Addr)
}

// BrokerOptions configure one broker.
type BrokerOptions struct {
	ClusterName              string // default "SkiffCluster"
	BrokerName               string // default "broker-a"
	Port, HaPort             int    // 0: FreePort
	NamesrvAddr              string // "ip:port;ip:port"
	StoreDir                 string // default: a new temporary folder
	MappedFileSizeCommitLog  int64  // default 64 MiB
	RegisterNameServerPeriod int    // ms; 0: broker default (30000)
	AutoCreateTopicDisabled  bool   // autoCreateTopicEnable = false
	LogLevel                 string
	Extra                    map[string]string // more TOML lines, key = raw TOML value
	// HTTP turns the broker's HTTP server on, on a port picked free for each start attempt
	// (Broker.HTTPPort reports it); without it httpPort is -1 unless Extra sets it.
	HTTP bool
	// NoWaitRegistration skips waiting for the broker to appear in every name server's cluster
	// info (for tests without a name server).
	NoWaitRegistration bool
}

// Broker is a running mqbroker process.
type Broker struct {
	*Proc
	Port        int
	Addr        string // 127.0.0.1:Port
	Name        string // brokerName
	ClusterName string
	StoreDir    string
	Config      string // path of the TOML file
	NamesrvAddr string
	HTTPPort    int           // with BrokerOptions.HTTP; 0 otherwise
	Options     BrokerOptions // with every default filled in: StartBroker(t, bin, br.Options) restarts it
}

// WriteBrokerConfig writes dir/broker.toml for o (with defaults filled) and returns its path.
func WriteBrokerConfig(dir string, o BrokerOptions) (string, error) {
	var b strings.Builder
	kv := func(k string, v any) {
		switch v := v.(type) {
		case string:
			fmt.Fprintf(&b, "%s = %q\n", k, v)
		default:
			fmt.Fprintf(&b, "%s = %v\n", k, v)
		}
	}
	kv("brokerClusterName", o.ClusterName)
	kv("brokerName", o.BrokerName)
	kv("brokerId", 0)
	kv("namesrvAddr", o.NamesrvAddr)
	kv("listenPort", o.Port)
	kv("haListenPort", o.HaPort)
	kv("bindAddress", "127.0.0.1")
	kv("brokerIP1", "127.0.0.1")
	kv("storePathRootDir", o.StoreDir)
	kv("brokerRole", "ASYNC_MASTER")
	kv("flushDiskType", "ASYNC_FLUSH")
	kv("autoCreateTopicEnable", !o.AutoCreateTopicDisabled)
	kv("mappedFileSizeCommitLog", o.MappedFileSizeCommitLog)
	if o.RegisterNameServerPeriod > 0 {
		kv("registerNameServerPeriod", o.RegisterNameServerPeriod)
	}
	if o.LogLevel != "" {
		kv("logLevel", o.LogLevel)
	}
	if _, ok := o.Extra["httpPort"]; !ok {
		kv("httpPort", -1) // off unless a test asks: listenPort+3 may belong to another process
	}
	keys := make([]string, 0, len(o.Extra))
	for k := range o.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, o.Extra[k])
	}
	path := filepath.Join(dir, "broker.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("testutil: write %s: %w", path, err)
	}
	return path, nil
}

// StartBroker starts bin (mqbroker) and waits until every name server in o.NamesrvAddr lists it
// in GET_BROKER_CLUSTER_INFO. When its ports were picked here and another process took one first,
// it retries with fresh ports, up to 3 times.
func StartBroker(t testing.TB, bin string, o BrokerOptions) *Broker {
	t.Helper()
	if o.ClusterName == "" {
		o.ClusterName = "SkiffCluster"
	}
	if o.BrokerName == "" {
		o.BrokerName = "broker-a"
	}
	if o.StoreDir == "" {
		o.StoreDir = filepath.Join(t.TempDir(), "store")
	}
	if o.MappedFileSizeCommitLog == 0 {
		o.MappedFileSizeCommitLog = 64 << 20
	}
	// Retrying on fresh ports helps only when every port was picked here: a caller's fixed
	// httpPort would be taken again on the next attempt.
	_, fixedHTTP := o.Extra["httpPort"]
	autoPorts := o.Port == 0 && o.HaPort == 0 && !fixedHTTP
	for attempt := 1; ; attempt++ {
		oo := o
		if oo.Port == 0 {
			oo.Port = FreePort(t)
		}
		if oo.HaPort == 0 {
			oo.HaPort = FreePort(t)
		}
		httpPort := 0
		if o.HTTP {
			// A fresh port on every attempt: a retry after a lost race must not reuse it. The
			// chosen port is kept in Options, so a restart from br.Options binds it again.
			oo.Extra = maps.Clone(o.Extra)
			if oo.Extra == nil {
				oo.Extra = map[string]string{}
			}
			if !fixedHTTP {
				oo.Extra["httpPort"] = strconv.Itoa(FreePort(t))
			}
			httpPort, _ = strconv.Atoi(oo.Extra["httpPort"])
		}
		path, err := WriteBrokerConfig(t.TempDir(), oo)
		if err != nil {
			t.Fatal(err)
		}
		br := &Broker{Port: oo.Port, Addr: Addr(oo.Port), Name: oo.BrokerName, ClusterName: oo.ClusterName,
			StoreDir: oo.StoreDir, Config: path, NamesrvAddr: oo.NamesrvAddr, HTTPPort: httpPort, Options: oo}
		br.Proc = Start(t, bin, []string{"-c", path}, nil)
		if autoPorts && attempt < 3 && lostPortRace(br.Proc, func() bool { return dialable(br.Addr) }) {
			t.Logf("testutil: mqbroker lost port %d or %d to another process; retrying", oo.Port, oo.HaPort)
			continue
		}
		if o.NoWaitRegistration {
			br.waitPort(t)
			return br
		}
		br.WaitRegistered(t, BrokerStartTimeout)
		return br
	}
}

// waitPort waits until the broker's port accepts connections.
func (br *Broker) waitPort(t testing.TB) {
	t.Helper()
	WaitFor(t, BrokerStartTimeout, func() bool {
		br.failIfExited(t)
		return dialable(br.Addr)
	}, "mqbroker to accept connections on "+br.Addr)
}

func (br *Broker) failIfExited(t testing.TB) {
	t.Helper()
	if br.Exited() {
		t.Fatalf("testutil: mqbroker %s exited with code %d during start:\n%s", br.Addr, br.ExitCode(), br.LogTail(30))
	}
}

// WaitRegistered waits until every name server of the broker lists its address.
func (br *Broker) WaitRegistered(t testing.TB, timeout time.Duration) {
	t.Helper()
	for _, ns := range strings.Split(br.NamesrvAddr, ";") {
		if ns = strings.TrimSpace(ns); ns == "" {
			continue
		}
		WaitFor(t, timeout, func() bool {
			br.failIfExited(t)
			return ListsBroker(ns, br.Addr)
		}, fmt.Sprintf("broker %s to be listed by name server %s", br.Addr, ns))
	}
}

// ClusterOptions configure StartCluster.
type ClusterOptions struct {
	Bins        *Binaries
	NameServers int // default 1
	Namesrv     NamesrvOptions
	Broker      BrokerOptions // NamesrvAddr is filled in
}

// Cluster is name servers plus one broker, all real processes.
type Cluster struct {
	NameServers []*Namesrv
	Broker      *Broker
	NamesrvAddr string // "127.0.0.1:p1;127.0.0.1:p2"
}

// NamesrvList returns the name server addresses.
func (c *Cluster) NamesrvList() []string {
	out := make([]string, len(c.NameServers))
	for i, ns := range c.NameServers {
		out[i] = ns.Addr
	}
	return out
}

// StartCluster starts opts.NameServers name servers and one broker registered with all of them,
// and returns once every name server lists the broker.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if opts.Bins == nil || opts.Bins.Namesrv == "" || opts.Bins.Broker == "" {
		t.Fatalf("testutil: StartCluster needs built mqnamesrv and mqbroker binaries")
	}
	n := opts.NameServers
	if n <= 0 {
		n = 1
	}
	c := &Cluster{}
	addrs := make([]string, 0, n)
	for range n {
		o := opts.Namesrv
		o.Port = 0
		ns := StartNamesrv(t, opts.Bins.Namesrv, o)
		c.NameServers = append(c.NameServers, ns)
		addrs = append(addrs, ns.Addr)
	}
	c.NamesrvAddr = strings.Join(addrs, ";")
	bo := opts.Broker
	bo.NamesrvAddr = c.NamesrvAddr
	c.Broker = StartBroker(t, opts.Bins.Broker, bo)
	return c
}
