package admin

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// fakeServer answers remoting requests with handlers by code; unknown codes get no answer.
type fakeServer struct {
	l        net.Listener
	mu       sync.Mutex
	handlers map[int32]func(*remoting.Command) *remoting.Command
	got      []*remoting.Command
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{l: l, handlers: map[int32]func(*remoting.Command) *remoting.Command{}}
	var wg sync.WaitGroup
	var conns []net.Conn
	var cmu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					req, err := remoting.ReadCommand(c, 0)
					if err != nil {
						return
					}
					s.mu.Lock()
					s.got = append(s.got, req)
					h := s.handlers[req.Code]
					s.mu.Unlock()
					if h == nil {
						continue
					}
					f, _ := h(req).Encode()
					_, _ = c.Write(f)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		cmu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	return s
}

func (s *fakeServer) addr() string { return s.l.Addr().String() }

func (s *fakeServer) handle(code int32, respCode int32, remark, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[code] = func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, respCode, remark)
		if body != "" {
			r.Body = []byte(body)
		}
		return r
	}
}

func (s *fakeServer) requests(code int32) []*remoting.Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*remoting.Command
	for _, r := range s.got {
		if r.Code == code {
			out = append(out, r)
		}
	}
	return out
}

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	_ = l.Close()
	return a
}

func newAdmin(t *testing.T, addrs ...string) *Admin {
	t.Helper()
	a, err := New(WithNameServers(addrs), WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

const clusterBody = `{"brokerAddrTable":{"broker-b":{"brokerAddrs":{0:"B_ADDR"},"brokerName":"broker-b","cluster":"C1"},` +
	`"broker-a":{"brokerAddrs":{0:"A_ADDR",1:"127.0.0.1:1"},"brokerName":"broker-a","cluster":"C1"},` +
	`"broker-s":{"brokerAddrs":{1:"127.0.0.1:2"},"brokerName":"broker-s","cluster":"C2"}},` +
	`"clusterAddrTable":{"C1":["broker-b","broker-a"],"C2":["broker-s"]}}`

func TestNewNeedsNameServer(t *testing.T) {
	t.Setenv("NAMESRV_ADDR", "")
	if _, err := New(); !errors.Is(err, ErrNoNameServer) {
		t.Fatalf("New() = %v, want ErrNoNameServer", err)
	}
	if _, err := New(WithNameServers([]string{"localhost"})); !errors.Is(err, ErrNoNameServer) || !strings.Contains(err.Error(), "localhost") {
		t.Fatalf("New(localhost) = %v", err)
	}
	t.Setenv("NAMESRV_ADDR", "127.0.0.1:1;127.0.0.1:2")
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := a.NameServers(); len(got) != 2 || got[1] != "127.0.0.1:2" {
		t.Fatalf("NameServers = %v", got)
	}
}

func TestClusterInfoAndMasters(t *testing.T) {
	ns := newFakeServer(t)
	ns.handle(remoting.GetBrokerClusterInfo, remoting.Success, "", clusterBody)
	a := newAdmin(t, ns.addr())
	ci, err := a.ClusterInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := ci.ClusterNames(); len(got) != 2 || got[0] != "C1" {
		t.Fatalf("clusters %v", got)
	}
	m, err := ci.MasterAddrs("C1")
	if err != nil || len(m) != 2 || m[0] != "A_ADDR" || m[1] != "B_ADDR" {
		t.Fatalf("MasterAddrs(C1) = %v, %v", m, err)
	}
	if _, err := a.MasterAddrs(context.Background(), "C2"); !errors.Is(err, ErrClusterNotExist) {
		t.Fatalf("MasterAddrs(C2 without master) = %v", err)
	}
	if _, err := ci.MasterAddrs("nope"); !errors.Is(err, ErrClusterNotExist) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("MasterAddrs(nope) = %v", err)
	}
}

func TestTopicRouteNotExistNamesTopic(t *testing.T) {
	ns := newFakeServer(t)
	ns.handle(remoting.GetRouteInfoByTopic, remoting.TopicNotExist, "No topic route info in name server for the topic: Nope", "")
	a := newAdmin(t, ns.addr())
	_, err := a.TopicRoute(context.Background(), "Nope")
	if !errors.Is(err, ErrTopicNotExist) || !strings.Contains(err.Error(), `"Nope"`) {
		t.Fatalf("TopicRoute = %v", err)
	}
	if got := ns.requests(remoting.GetRouteInfoByTopic); len(got) != 1 || got[0].ExtFields["topic"] != "Nope" {
		t.Fatalf("requests %v", got)
	}
}

func TestNameServerFailover(t *testing.T) {
	ns := newFakeServer(t)
	ns.handle(remoting.GetAllTopicListFromNameServer, remoting.Success, "", `{"topicList":["b","a"]}`)
	a := newAdmin(t, deadAddr(t), ns.addr())
	for range 3 { // whichever server the round robin starts with
		got, err := a.TopicList(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0] != "a" {
			t.Fatalf("TopicList = %v", got)
		}
	}
}

func TestUnreachableAndTimeout(t *testing.T) {
	dead := deadAddr(t)
	a := newAdmin(t, dead)
	_, err := a.ClusterInfo(context.Background())
	if !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), dead) {
		t.Fatalf("ClusterInfo on a dead address = %v", err)
	}
	silent := newFakeServer(t) // answers nothing
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = a.BrokerRuntimeInfo(ctx, silent.addr())
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), silent.addr()) {
		t.Fatalf("BrokerRuntimeInfo on a silent server = %v", err)
	}
}

func TestCallsAfterCloseReturnErrClosed(t *testing.T) {
	ns := newFakeServer(t)
	ns.handle(remoting.GetAllTopicListFromNameServer, remoting.Success, "", `{"topicList":["a"]}`)
	a := newAdmin(t, ns.addr())
	if _, err := a.TopicList(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := a.TopicList(context.Background())
	if !errors.Is(err, ErrClosed) || !strings.HasPrefix(err.Error(), "admin: ") {
		t.Fatalf("TopicList after Close = %v, want an \"admin: \" error wrapping ErrClosed", err)
	}
	if got := len(ns.requests(remoting.GetAllTopicListFromNameServer)); got != 1 {
		t.Fatalf("name server got %d topic-list requests, want 1 (none after Close)", got)
	}
}

func TestCreateTopicHeader(t *testing.T) {
	br := newFakeServer(t)
	br.handle(remoting.UpdateAndCreateTopic, remoting.Success, "", "")
	a := newAdmin(t, deadAddr(t))
	if err := a.CreateTopic(context.Background(), br.addr(), TopicConfig{TopicName: "T1", ReadQueueNums: 4, Order: true}); err != nil {
		t.Fatal(err)
	}
	got := br.requests(remoting.UpdateAndCreateTopic)
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	want := map[string]string{"topic": "T1", "readQueueNums": "4", "writeQueueNums": "8", "perm": "6",
		"topicFilterType": "SINGLE_TAG", "order": "true", "defaultTopic": "TBW102", "topicSysFlag": "0"}
	for k, v := range want {
		if got[0].ExtFields[k] != v {
			t.Errorf("extField %s = %q, want %q", k, got[0].ExtFields[k], v)
		}
	}
	if err := a.CreateTopic(context.Background(), br.addr(), TopicConfig{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty topic: %v", err)
	}
}

func TestBrokerErrorCarriesCode(t *testing.T) {
	br := newFakeServer(t)
	br.handle(remoting.UpdateAndCreateTopic, remoting.SystemError, "The topic[TBW102] is conflict with system topic.", "")
	a := newAdmin(t, deadAddr(t))
	err := a.CreateTopic(context.Background(), br.addr(), DefaultTopicConfig("TBW102"))
	var be *BrokerError
	if !errors.As(err, &be) || be.Code != remoting.SystemError || be.Addr != br.addr() || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("CreateTopic = %v", err)
	}
	if errors.Is(err, ErrTopicNotExist) {
		t.Fatal("SYSTEM_ERROR matched ErrTopicNotExist")
	}
	if !errors.Is(&BrokerError{Code: remoting.TopicNotExist}, ErrTopicNotExist) {
		t.Fatal("TOPIC_NOT_EXIST does not match ErrTopicNotExist")
	}
}

func TestDeleteTopicEverywhere(t *testing.T) {
	brA, brB := newFakeServer(t), newFakeServer(t)
	for _, b := range []*fakeServer{brA, brB} {
		b.handle(remoting.DeleteTopicInBroker, remoting.Success, "", "")
	}
	body := strings.NewReplacer("A_ADDR", brA.addr(), "B_ADDR", brB.addr()).Replace(clusterBody)
	ns1, ns2 := newFakeServer(t), newFakeServer(t)
	for _, ns := range []*fakeServer{ns1, ns2} {
		ns.handle(remoting.GetBrokerClusterInfo, remoting.Success, "", body)
		ns.handle(remoting.DeleteTopicInNamesrv, remoting.Success, "", "")
	}
	a := newAdmin(t, ns1.addr(), ns2.addr())
	if err := a.DeleteTopic(context.Background(), "C1", "T9"); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*fakeServer{brA, brB} {
		if got := b.requests(remoting.DeleteTopicInBroker); len(got) != 1 || got[0].ExtFields["topic"] != "T9" {
			t.Fatalf("broker %s got %v", b.addr(), got)
		}
	}
	for _, ns := range []*fakeServer{ns1, ns2} {
		got := ns.requests(remoting.DeleteTopicInNamesrv)
		if len(got) != 1 || got[0].ExtFields["topic"] != "T9" || got[0].ExtFields["clusterName"] != "C1" {
			t.Fatalf("name server %s got %v", ns.addr(), got)
		}
	}
	if err := a.DeleteTopic(context.Background(), "Nope", "T9"); !errors.Is(err, ErrClusterNotExist) {
		t.Fatalf("DeleteTopic in unknown cluster = %v", err)
	}
}

func TestBrokerRuntimeInfo(t *testing.T) {
	br := newFakeServer(t)
	br.handle(remoting.GetBrokerRuntimeInfo, remoting.Success, "", `{"table":{"putTps":"1.00 1.00 1.00","brokerVersionDesc":"Skiff x"}}`)
	a := newAdmin(t, deadAddr(t))
	kv, err := a.BrokerRuntimeInfo(context.Background(), br.addr())
	if err != nil {
		t.Fatal(err)
	}
	if kv["brokerVersionDesc"] != "Skiff x" || len(kv) != 2 {
		t.Fatalf("table %v", kv)
	}
	br.handle(remoting.GetBrokerRuntimeInfo, remoting.Success, "", `{"table":`)
	if _, err := a.BrokerRuntimeInfo(context.Background(), br.addr()); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("truncated body: %v", err)
	}
}
