package namesrv

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/namesrv/routeinfo"
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
	mustCode(t, invoke(t, broker, s.Addr(), registerReq("broker-a", "127.0.0.1:10911", 0, registerBody(1, "TopicTest"))), respSuccess)

	resp := mustCode(t, invoke(t, client, s.Addr(), req(codeGetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil)), respSuccess)
	route, err := routeinfo.DecodeTopicRoute(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(route.BrokerDatas) != 1 || route.BrokerDatas[0].BrokerAddrs[0] != "127.0.0.1:10911" ||
		len(route.QueueDatas) != 1 || route.QueueDatas[0].WriteQueueNums != 4 {
		t.Fatalf("route %+v", route)
	}
	mustCode(t, invoke(t, client, s.Addr(), req(codeGetRouteInfoByTopic, map[string]string{"topic": "Nope"}, nil)), respTopicNotExist)

	// The broker's connection closes: it leaves the routes at once.
	broker.CloseAddr(s.Addr())
	eventually(t, "broker removal after its connection closed", func() bool {
		return invoke(t, client, s.Addr(), req(codeGetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil)).Code == respTopicNotExist
	})
}

func TestNamesrvServerExpiryClosesConnection(t *testing.T) {
	s, clk := startTestServer(t, func(c *Config) {
		c.ScanNotActiveBrokerInterval = 5
		c.BrokerChannelExpiredTime = 120000
	})
	broker := newClient(t)
	mustCode(t, invoke(t, broker, s.Addr(), registerReq("broker-a", "127.0.0.1:10911", 0, registerBody(1, "T"))), respSuccess)
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
		return err == nil && resp.Code == respSuccess
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
