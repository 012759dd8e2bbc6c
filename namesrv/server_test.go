package namesrv

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
)

func startTestServer(t *testing.T, mutate func(*Config)) (*Server, *testClock) {
	t.Helper()
	s, clk := newTestServer(t, mutate)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, clk
}

func newClient(t *testing.T) *rpc.Client {
	t.Helper()
	c := rpc.New(rpc.Config{Logger: testLogger(t), DialTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// cmd turns a processor test request into a remoting command as the Go client sends it.
func cmd(r *request) *remoting.Command {
	c := remoting.NewRequest(r.Code, r.ExtFields, r.Body)
	c.Version = r.Version
	return c
}

// invoke sends r and returns the response as a processor response, after checking the remoting
// envelope (response flag, matching opaque).
func invoke(t *testing.T, c *rpc.Client, addr string, r *request) *response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc := cmd(r)
	resp, err := c.Invoke(ctx, addr, rc)
	if err != nil {
		t.Fatalf("invoke code %d: %v", r.Code, err)
	}
	if !resp.IsResponse() || resp.Opaque != rc.Opaque {
		t.Fatalf("bad envelope: flag %d opaque %d, want response to %d", resp.Flag, resp.Opaque, rc.Opaque)
	}
	return &response{Code: resp.Code, Remark: resp.Remark, ExtFields: resp.ExtFields, Body: resp.Body}
}

// eventually polls cond until it holds or a generous deadline passes (a failure guard, not a
// timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNamesrvServerRegisterRouteOverTCP(t *testing.T) {
	s, _ := startTestServer(t, nil)
	if s.Addr() == "" {
		t.Fatal("no address after Start")
	}
	broker := newClient(t)
	client := newClient(t)
	mustCode(t, invoke(t, broker, s.Addr(), registerReq("broker-a", "127.0.0.1:10911", 0, registerBody(1, "TopicTest"))), protocol.Success)

	resp := mustCode(t, invoke(t, client, s.Addr(), req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil)), protocol.Success)
	route, err := protocol.DecodeTopicRoute(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(route.BrokerDatas) != 1 || route.BrokerDatas[0].BrokerAddrs[0] != "127.0.0.1:10911" ||
		len(route.QueueDatas) != 1 || route.QueueDatas[0].WriteQueueNums != 4 {
		t.Fatalf("route %+v", route)
	}
	mustCode(t, invoke(t, client, s.Addr(), req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "Nope"}, nil)), protocol.TopicNotExist)

	// The broker's connection closes: it leaves the routes at once.
	broker.CloseAddr(s.Addr())
	eventually(t, "broker removal after its connection closed", func() bool {
		return invoke(t, client, s.Addr(), req(protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil)).Code == protocol.TopicNotExist
	})
}

func TestNamesrvServerExpiryClosesConnection(t *testing.T) {
	s, clk := startTestServer(t, func(c *Config) {
		c.ScanNotActiveBrokerInterval = 5
		c.BrokerChannelExpiredTime = 120000
	})
	broker := newClient(t)
	mustCode(t, invoke(t, broker, s.Addr(), registerReq("broker-a", "127.0.0.1:10911", 0, registerBody(1, "T"))), protocol.Success)
	if lb := s.Table().LiveBrokers(); len(lb) != 1 {
		t.Fatalf("live %+v", lb)
	}
	clk.Advance(121 * time.Second)
	eventually(t, "expiry of a silent broker", func() bool { return len(s.Table().LiveBrokers()) == 0 })
	if _, ok := s.Table().TopicRoute("T"); ok {
		t.Fatal("route left after expiry")
	}
	// The broker can come back (its client reconnects) and is routed again.
	eventually(t, "re-registration after expiry", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := broker.Invoke(ctx, s.Addr(), cmd(registerReq("broker-a", "127.0.0.1:10911", 0, registerBody(1, "T"))))
		return err == nil && resp.Code == protocol.Success
	})
	if _, ok := s.Table().TopicRoute("T"); !ok {
		t.Fatal("no route after re-registration")
	}
}

func TestNamesrvServerShutdownIdempotent(t *testing.T) {
	s, _ := newTestServer(t, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	ctx := context.Background()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
}

func TestNamesrvServerPortInUse(t *testing.T) {
	a, _ := startTestServer(t, nil)
	_, port := splitPort(t, a.Addr())
	b, _ := newTestServer(t, func(c *Config) { c.ListenPort = port })
	if err := b.Start(); err == nil {
		_ = b.Shutdown(context.Background())
		t.Fatal("second server on the same port started")
	}
}

func splitPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return host, n
}

// A broker whose connection closes while its registration is being processed must not stay
// routed until expiry: the big body makes the handler slow enough for the close hook to run
// first in many rounds.
func TestNamesrvServerRegisterRacingConnClose(t *testing.T) {
	s, _ := startTestServer(t, func(c *Config) { c.ServerWorkerThreads = 4 })
	topics := make([]string, 3000)
	for i := range topics {
		topics[i] = "Topic-" + strconv.Itoa(i)
	}
	body := registerBody(1, topics...)
	for i := range 40 {
		conn, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		frame, err := cmd(registerReq("broker-"+strconv.Itoa(i), "127.0.0.1:"+strconv.Itoa(20000+i), 0, body)).Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(frame); err != nil {
			t.Fatal(err)
		}
		_ = conn.Close()
	}
	eventually(t, "no broker left after every connection closed", func() bool {
		return len(s.Table().LiveBrokers()) == 0 && len(s.Table().AllTopics()) == 0
	})
	eventually(t, "no connection closer left", func() bool {
		s.connMu.Lock()
		defer s.connMu.Unlock()
		return len(s.conns) == 0
	})
}

// rawConn dials addr with a deadline on every read and write; the test closes it.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	return conn
}

func writeCmd(t *testing.T, conn net.Conn, c *remoting.Command) {
	t.Helper()
	frame, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// A oneway registration (Java brokers register oneway after a topic change) is applied and never
// answered; an unknown code is answered REQUEST_CODE_NOT_SUPPORTED; a ROCKETMQ-serialized
// request gets a ROCKETMQ-serialized answer.
func TestNamesrvServerOnewayUnknownAndRocketMQHeader(t *testing.T) {
	s, _ := startTestServer(t, nil)
	conn := rawConn(t, s.Addr())

	reg := cmd(registerReq("broker-a", "127.0.0.1:10911", 0, registerBody(1, "TopicOneway")))
	reg.MarkOneway()
	writeCmd(t, conn, reg)
	unknown := remoting.NewRequest(9999, nil, nil)
	writeCmd(t, conn, unknown)
	route := remoting.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicOneway"}, nil)
	route.SerializeType = remoting.SerializeRocketMQ

	// The first answer on the connection must be the one to the unknown code: the oneway
	// registration is never answered.
	resp, err := remoting.ReadCommand(conn, remoting.DefaultMaxFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Opaque != unknown.Opaque || resp.Code != remoting.RequestCodeNotSupported ||
		resp.Remark != " request type 9999 not supported" {
		t.Fatalf("answer %v, want REQUEST_CODE_NOT_SUPPORTED to opaque %d", resp, unknown.Opaque)
	}
	eventually(t, "oneway registration applied", func() bool { _, ok := s.Table().TopicRoute("TopicOneway"); return ok })

	writeCmd(t, conn, route)
	resp, err = remoting.ReadCommand(conn, remoting.DefaultMaxFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Opaque != route.Opaque || !resp.IsResponse() || resp.Code != protocol.Success ||
		resp.SerializeType != remoting.SerializeRocketMQ {
		t.Fatalf("route answer %v (serialize %d)", resp, resp.SerializeType)
	}
	rd, err := protocol.DecodeTopicRoute(resp.Body)
	if err != nil || len(rd.BrokerDatas) != 1 || rd.BrokerDatas[0].BrokerName != "broker-a" {
		t.Fatalf("route %+v, %v", rd, err)
	}

	// The oneway registration bound the broker to this connection: closing it removes the broker.
	_ = conn.Close()
	eventually(t, "broker removal after the oneway registrant closed", func() bool {
		_, ok := s.Table().TopicRoute("TopicOneway")
		return !ok
	})
}

// A slave registering over TCP learns its master's addresses from the response extFields.
func TestNamesrvServerSlaveGetsMasterOverTCP(t *testing.T) {
	s, _ := startTestServer(t, nil)
	master, slave := newClient(t), newClient(t)
	mustCode(t, invoke(t, master, s.Addr(), registerReq("broker-a", "127.0.0.1:10911", 0, registerBody(1, "T"))), protocol.Success)
	resp := mustCode(t, invoke(t, slave, s.Addr(), registerReq("broker-a", "127.0.0.1:10921", 1, registerBody(1, "T"))), protocol.Success)
	if resp.ExtFields["masterAddr"] != "127.0.0.1:10911" || resp.ExtFields["haServerAddr"] == "" {
		t.Fatalf("slave registration answer ext %v", resp.ExtFields)
	}
	// The master's connection closes: the slave stays, the master id leaves the route.
	master.CloseAddr(s.Addr())
	eventually(t, "master removal", func() bool {
		r, ok := s.Table().TopicRoute("T")
		if !ok || len(r.BrokerDatas) != 1 {
			return false
		}
		_, hasMaster := r.BrokerDatas[0].BrokerAddrs[0]
		return !hasMaster && r.BrokerDatas[0].BrokerAddrs[1] == "127.0.0.1:10921"
	})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestNamesrvServerPrintsKVConfigPeriodically(t *testing.T) {
	s, _ := newTestServer(t, nil)
	var logs lockedBuffer
	s.log = slog.New(slog.NewTextHandler(&logs, nil))
	s.kvPrintInterval = 20 * time.Millisecond
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	c := newClient(t)
	mustCode(t, invoke(t, c, s.Addr(), req(protocol.PutKVConfig,
		map[string]string{"namespace": NamespaceOrderTopicConfig, "key": "TopicOrder", "value": "broker-a:4"}, nil)), protocol.Success)
	eventually(t, "a kv config dump in the log", func() bool {
		return strings.Contains(logs.String(), `msg="kv config" namespace=ORDER_TOPIC_CONFIG key=TopicOrder value=broker-a:4`)
	})
}
