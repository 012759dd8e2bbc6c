package routeinfo

import (
	"reflect"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func topics(names ...string) map[string]TopicConfig {
	m := make(map[string]TopicConfig, len(names))
	for _, n := range names {
		m[n] = TopicConfig{TopicName: n, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG"}
	}
	return m
}

func master(name, addr string, dv int64, conn string, tps map[string]TopicConfig) Registration {
	return Registration{ClusterName: "DefaultCluster", BrokerName: name, BrokerAddr: addr, BrokerID: 0,
		HaServerAddr: addr + "1", DataVersion: DataVersion{Counter: dv, Timestamp: 1}, Topics: tps, ConnKey: conn}
}

func TestRouteInfoRegisterMasterAndSlave(t *testing.T) {
	tb := New(newFakeClock().Now)
	res := tb.RegisterBroker(Registration{ClusterName: "c1", BrokerName: "broker-a", BrokerAddr: "10.0.0.1:10911",
		BrokerID: 0, HaServerAddr: "10.0.0.1:10912", DataVersion: DataVersion{Counter: 1, Timestamp: 1}, Topics: topics("T1", "T2")})
	if !res.First || !res.TopicsUpdate || res.MasterAddr != "" || res.HaServerAddr != "" {
		t.Fatalf("master result %+v", res)
	}
	res = tb.RegisterBroker(Registration{ClusterName: "c1", BrokerName: "broker-a", BrokerAddr: "10.0.0.2:10911",
		BrokerID: 1, HaServerAddr: "10.0.0.2:10912", DataVersion: DataVersion{Counter: 5, Timestamp: 5}, Topics: topics("SlaveOnly")})
	if !res.First || res.TopicsUpdate || res.MasterAddr != "10.0.0.1:10911" || res.HaServerAddr != "10.0.0.1:10912" {
		t.Fatalf("slave result %+v", res)
	}
	r, ok := tb.TopicRoute("T1")
	if !ok {
		t.Fatal("no route for T1")
	}
	want := TopicRouteData{
		QueueDatas: []QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
		BrokerDatas: []BrokerData{{Cluster: "c1", BrokerName: "broker-a",
			BrokerAddrs: map[int64]string{0: "10.0.0.1:10911", 1: "10.0.0.2:10911"}}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("route\n got %+v\nwant %+v", r, want)
	}
	if _, ok := tb.TopicRoute("SlaveOnly"); ok {
		t.Fatal("a slave's topics must be ignored")
	}
	if got := tb.AllTopics(); !reflect.DeepEqual(got, []string{"T1", "T2"}) {
		t.Fatalf("all topics %v", got)
	}
	ci := tb.ClusterInfo()
	if !reflect.DeepEqual(ci.ClusterAddrTable, map[string][]string{"c1": {"broker-a"}}) || len(ci.BrokerAddrTable) != 1 {
		t.Fatalf("cluster info %+v", ci)
	}
}

func TestRouteInfoSlaveWithoutLiveMaster(t *testing.T) {
	tb := New(newFakeClock().Now)
	res := tb.RegisterBroker(Registration{ClusterName: "c", BrokerName: "b", BrokerAddr: "s:1", BrokerID: 1})
	if res.MasterAddr != "" || res.HaServerAddr != "" {
		t.Fatalf("%+v", res)
	}
}

func TestRouteInfoRouteAssemblyMultipleBrokers(t *testing.T) {
	tb := New(newFakeClock().Now)
	tb.RegisterBroker(master("broker-b", "b:1", 1, "", topics("T", "OnlyB")))
	tb.RegisterBroker(master("broker-a", "a:1", 1, "", topics("T")))
	r, ok := tb.TopicRoute("T")
	if !ok || len(r.QueueDatas) != 2 || len(r.BrokerDatas) != 2 {
		t.Fatalf("route %+v", r)
	}
	if r.QueueDatas[0].BrokerName != "broker-a" || r.BrokerDatas[1].BrokerName != "broker-b" {
		t.Fatalf("route not sorted by broker name: %+v", r)
	}
	r, _ = tb.TopicRoute("OnlyB")
	if len(r.BrokerDatas) != 1 || r.BrokerDatas[0].BrokerName != "broker-b" {
		t.Fatalf("route of OnlyB %+v", r)
	}
	if _, ok := tb.TopicRoute("Nope"); ok {
		t.Fatal("route for unknown topic")
	}
	// The route is a copy: changing it must not change the table.
	r.BrokerDatas[0].BrokerAddrs[0] = "evil:1"
	r2, _ := tb.TopicRoute("OnlyB")
	if r2.BrokerDatas[0].BrokerAddrs[0] != "b:1" {
		t.Fatal("route shares maps with the table")
	}
}

func TestRouteInfoDataVersionGatesTopicUpdate(t *testing.T) {
	tb := New(newFakeClock().Now)
	tb.RegisterBroker(master("broker-a", "a:1", 1, "", topics("T")))
	if n := tb.WipeWritePerm("broker-a"); n != 1 {
		t.Fatalf("wipe count %d", n)
	}
	// Same DataVersion: the name server's copy (wiped) is kept.
	res := tb.RegisterBroker(master("broker-a", "a:1", 1, "", topics("T")))
	if res.First || res.TopicsUpdate {
		t.Fatalf("%+v", res)
	}
	r, _ := tb.TopicRoute("T")
	if r.QueueDatas[0].Perm != PermRead {
		t.Fatalf("perm %d, want wiped", r.QueueDatas[0].Perm)
	}
	// New DataVersion: rewritten from the body.
	if res := tb.RegisterBroker(master("broker-a", "a:1", 2, "", topics("T"))); !res.TopicsUpdate {
		t.Fatalf("%+v", res)
	}
	r, _ = tb.TopicRoute("T")
	if r.QueueDatas[0].Perm != 6 {
		t.Fatalf("perm %d after new version", r.QueueDatas[0].Perm)
	}
}

func TestRouteInfoFullRegistrationRemovesAbsentTopics(t *testing.T) {
	tb := New(newFakeClock().Now)
	tb.RegisterBroker(master("broker-a", "a:1", 1, "", topics("Keep", "Gone", "Shared")))
	tb.RegisterBroker(master("broker-b", "b:1", 1, "", topics("Shared")))
	tb.RegisterBroker(master("broker-a", "a:1", 2, "", topics("Keep")))
	if _, ok := tb.TopicRoute("Gone"); ok {
		t.Fatal("topic absent from a full registration still routed")
	}
	r, ok := tb.TopicRoute("Shared")
	if !ok || len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "broker-b" {
		t.Fatalf("Shared route %+v", r)
	}
	if got := tb.AllTopics(); !reflect.DeepEqual(got, []string{"Keep", "Shared"}) {
		t.Fatalf("topics %v", got)
	}
	// A registration without a topic table (nil) leaves queue data alone.
	tb.RegisterBroker(master("broker-a", "a:1", 3, "", nil))
	if _, ok := tb.TopicRoute("Keep"); !ok {
		t.Fatal("registration without topics removed queue data")
	}
	// An empty table is a broker with no topics.
	tb.RegisterBroker(master("broker-a", "a:1", 4, "", map[string]TopicConfig{}))
	if _, ok := tb.TopicRoute("Keep"); ok {
		t.Fatal("empty topic table kept queue data")
	}
}

func TestRouteInfoRoleSwitchRemovesOldID(t *testing.T) {
	tb := New(newFakeClock().Now)
	tb.RegisterBroker(Registration{ClusterName: "c", BrokerName: "b", BrokerAddr: "x:1", BrokerID: 1})
	tb.RegisterBroker(Registration{ClusterName: "c", BrokerName: "b", BrokerAddr: "x:1", BrokerID: 0, Topics: topics("T")})
	r, _ := tb.TopicRoute("T")
	if !reflect.DeepEqual(r.BrokerDatas[0].BrokerAddrs, map[int64]string{0: "x:1"}) {
		t.Fatalf("addrs %v", r.BrokerDatas[0].BrokerAddrs)
	}
}

func TestRouteInfoExpiryWithFakeClock(t *testing.T) {
	clk := newFakeClock()
	tb := New(clk.Now)
	tb.RegisterBroker(master("broker-a", "a:1", 1, "", topics("T")))
	tb.RegisterBroker(Registration{ClusterName: "DefaultCluster", BrokerName: "broker-a", BrokerAddr: "a:2", BrokerID: 1})
	clk.Advance(60 * time.Second)
	tb.RegisterBroker(Registration{ClusterName: "DefaultCluster", BrokerName: "broker-a", BrokerAddr: "a:2", BrokerID: 1})
	clk.Advance(60 * time.Second)
	if got := tb.ScanNotActive(120 * time.Second); len(got) != 0 {
		t.Fatalf("expired at exactly 120 s: %+v", got)
	}
	clk.Advance(time.Millisecond)
	got := tb.ScanNotActive(120 * time.Second)
	if len(got) != 1 || got[0].BrokerAddr != "a:1" || got[0].BrokerName != "broker-a" || got[0].BrokerID != 0 {
		t.Fatalf("expired %+v", got)
	}
	r, ok := tb.TopicRoute("T")
	if !ok || !reflect.DeepEqual(r.BrokerDatas[0].BrokerAddrs, map[int64]string{1: "a:2"}) {
		t.Fatalf("route after master expiry %+v %v", r, ok)
	}
	// QUERY_DATA_VERSION refreshes liveness.
	clk.Advance(100 * time.Second)
	if changed, stored := tb.QueryDataVersion("a:2", DataVersion{}); changed || stored == nil {
		t.Fatalf("query data version: %v %v", changed, stored)
	}
	clk.Advance(100 * time.Second)
	if got := tb.ScanNotActive(120 * time.Second); len(got) != 0 {
		t.Fatalf("refreshed broker expired: %+v", got)
	}
	clk.Advance(21 * time.Second)
	if got := tb.ScanNotActive(120 * time.Second); len(got) != 1 {
		t.Fatalf("want slave expired, got %+v", got)
	}
	if _, ok := tb.TopicRoute("T"); ok {
		t.Fatal("route survives all brokers expiring")
	}
	if ci := tb.ClusterInfo(); len(ci.BrokerAddrTable) != 0 || len(ci.ClusterAddrTable) != 0 {
		t.Fatalf("cluster info not empty: %+v", ci)
	}
}

func TestRouteInfoPerBrokerTimeout(t *testing.T) {
	clk := newFakeClock()
	tb := New(clk.Now)
	r := master("broker-a", "a:1", 1, "", topics("T"))
	r.Timeout = 10 * time.Second
	tb.RegisterBroker(r)
	clk.Advance(11 * time.Second)
	if got := tb.ScanNotActive(120 * time.Second); len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
}

func TestRouteInfoConnClosedRemovesBroker(t *testing.T) {
	tb := New(newFakeClock().Now)
	tb.RegisterBroker(master("broker-a", "a:1", 1, "conn-1", topics("T")))
	tb.RegisterBroker(master("broker-b", "b:1", 1, "conn-2", topics("T")))
	if got := tb.ConnClosed("conn-unknown"); len(got) != 0 {
		t.Fatalf("unknown conn removed %+v", got)
	}
	got := tb.ConnClosed("conn-1")
	if len(got) != 1 || got[0].BrokerAddr != "a:1" || got[0].ConnKey != "conn-1" {
		t.Fatalf("removed %+v", got)
	}
	r, _ := tb.TopicRoute("T")
	if len(r.BrokerDatas) != 1 || r.BrokerDatas[0].BrokerName != "broker-b" || len(r.QueueDatas) != 1 {
		t.Fatalf("route %+v", r)
	}
	// A broker that re-registered over a new connection survives the old one closing.
	tb.RegisterBroker(master("broker-b", "b:1", 1, "conn-3", nil))
	if got := tb.ConnClosed("conn-2"); len(got) != 0 {
		t.Fatalf("stale connection removed the broker: %+v", got)
	}
	if got := tb.ConnClosed(""); got != nil {
		t.Fatalf("empty key matched %+v", got)
	}
	if lb := tb.LiveBrokers(); len(lb) != 1 || lb[0].ConnKey != "conn-3" {
		t.Fatalf("live %+v", lb)
	}
}

func TestRouteInfoUnregister(t *testing.T) {
	tb := New(newFakeClock().Now)
	tb.RegisterBroker(master("broker-a", "a:1", 1, "", topics("T", "U")))
	tb.RegisterBroker(Registration{ClusterName: "DefaultCluster", BrokerName: "broker-a", BrokerAddr: "a:2", BrokerID: 1})
	tb.RegisterBroker(master("broker-b", "b:1", 1, "", topics("U")))
	if !tb.UnregisterBroker("DefaultCluster", "broker-a", "a:1", 0) {
		t.Fatal("unregister master reported nothing removed")
	}
	if r, ok := tb.TopicRoute("T"); !ok || !reflect.DeepEqual(r.BrokerDatas[0].BrokerAddrs, map[int64]string{1: "a:2"}) {
		t.Fatalf("route after master unregister %+v", r)
	}
	tb.UnregisterBroker("DefaultCluster", "broker-a", "a:2", 1)
	if _, ok := tb.TopicRoute("T"); ok {
		t.Fatal("T survives its only broker set")
	}
	r, _ := tb.TopicRoute("U")
	if len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "broker-b" {
		t.Fatalf("U %+v", r)
	}
	ci := tb.ClusterInfo()
	if !reflect.DeepEqual(ci.ClusterAddrTable, map[string][]string{"DefaultCluster": {"broker-b"}}) {
		t.Fatalf("clusters %+v", ci.ClusterAddrTable)
	}
	if tb.UnregisterBroker("DefaultCluster", "broker-x", "x:1", 0) {
		t.Fatal("unregister of unknown broker reported a removal")
	}
}

func TestRouteInfoWipeAndAddWritePerm(t *testing.T) {
	tb := New(newFakeClock().Now)
	tps := topics("T1", "T2")
	tc := tps["T2"]
	tc.Perm = PermRead | PermWrite | PermInherit
	tps["T2"] = tc
	tb.RegisterBroker(master("broker-a", "a:1", 1, "", tps))
	tb.RegisterBroker(master("broker-b", "b:1", 1, "", topics("T1")))
	if n := tb.WipeWritePerm("broker-a"); n != 2 {
		t.Fatalf("wipe count %d", n)
	}
	r, _ := tb.TopicRoute("T2")
	if r.QueueDatas[0].Perm != PermRead|PermInherit {
		t.Fatalf("wiped perm %d", r.QueueDatas[0].Perm)
	}
	r, _ = tb.TopicRoute("T1")
	for _, qd := range r.QueueDatas {
		want := PermRead | PermWrite
		if qd.BrokerName == "broker-a" {
			want = PermRead
		}
		if qd.Perm != want {
			t.Fatalf("%s perm %d want %d", qd.BrokerName, qd.Perm, want)
		}
	}
	if n := tb.AddWritePerm("broker-a"); n != 2 {
		t.Fatalf("add count %d", n)
	}
	r, _ = tb.TopicRoute("T2")
	if r.QueueDatas[0].Perm != 6 {
		t.Fatalf("added perm %d", r.QueueDatas[0].Perm)
	}
	if n := tb.WipeWritePerm("nobody"); n != 0 {
		t.Fatalf("wipe unknown %d", n)
	}
}

func TestRouteInfoDeleteTopic(t *testing.T) {
	tb := New(newFakeClock().Now)
	tb.RegisterBroker(Registration{ClusterName: "c1", BrokerName: "a", BrokerAddr: "a:1", Topics: topics("T", "X")})
	tb.RegisterBroker(Registration{ClusterName: "c2", BrokerName: "b", BrokerAddr: "b:1", Topics: topics("T", "X")})

	if !tb.DeleteTopic("T", "c1") {
		t.Fatal("delete in c1 removed nothing")
	}
	r, ok := tb.TopicRoute("T")
	if !ok || len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "b" {
		t.Fatalf("after delete in c1: %+v", r)
	}
	if tb.DeleteTopic("T", "c-unknown") {
		t.Fatal("delete in unknown cluster reported removal")
	}
	tb.DeleteTopic("T", "c2")
	if _, ok := tb.TopicRoute("T"); ok {
		t.Fatal("topic left after every cluster deleted it")
	}
	if !tb.DeleteTopic("X", "") {
		t.Fatal("delete without cluster removed nothing")
	}
	if got := tb.AllTopics(); len(got) != 0 {
		t.Fatalf("topics %v", got)
	}
	if tb.DeleteTopic("X", "") {
		t.Fatal("second delete reported removal")
	}
}

func TestRouteInfoTopicsByClusterAndSystemTopics(t *testing.T) {
	tb := New(newFakeClock().Now)
	tb.RegisterBroker(Registration{ClusterName: "c1", BrokerName: "a", BrokerAddr: "a:1", Topics: topics("T1", "Both")})
	tb.RegisterBroker(Registration{ClusterName: "c2", BrokerName: "b", BrokerAddr: "b:2", BrokerID: 1})
	tb.RegisterBroker(Registration{ClusterName: "c2", BrokerName: "b", BrokerAddr: "b:1", Topics: topics("T2", "Both")})
	if got := tb.TopicsByCluster("c1"); !reflect.DeepEqual(got, []string{"Both", "T1"}) {
		t.Fatalf("c1 %v", got)
	}
	if got := tb.TopicsByCluster("c2"); !reflect.DeepEqual(got, []string{"Both", "T2"}) {
		t.Fatalf("c2 %v", got)
	}
	if got := tb.TopicsByCluster("none"); len(got) != 0 {
		t.Fatalf("none %v", got)
	}
	names, addr := tb.SystemTopics()
	if !reflect.DeepEqual(names, []string{"a", "b", "c1", "c2"}) || addr != "a:1" {
		t.Fatalf("system topics %v %q", names, addr)
	}
}

func TestRouteInfoQueryDataVersion(t *testing.T) {
	tb := New(newFakeClock().Now)
	if changed, stored := tb.QueryDataVersion("a:1", DataVersion{Counter: 1, Timestamp: 1}); !changed || stored != nil {
		t.Fatalf("unknown broker: %v %v", changed, stored)
	}
	tb.RegisterBroker(master("broker-a", "a:1", 7, "", nil))
	changed, stored := tb.QueryDataVersion("a:1", DataVersion{Counter: 7, Timestamp: 1})
	if changed || stored == nil || stored.Counter != 7 {
		t.Fatalf("same version: %v %v", changed, stored)
	}
	if changed, _ := tb.QueryDataVersion("a:1", DataVersion{Counter: 8, Timestamp: 1}); !changed {
		t.Fatal("different version not reported as changed")
	}
}

func TestRouteInfoConcurrentUse(t *testing.T) {
	clk := newFakeClock()
	tb := New(clk.Now)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				name := string(rune('a' + g))
				tb.RegisterBroker(master(name, name+":1", int64(i), name, topics("T", name)))
				tb.TopicRoute("T")
				tb.ClusterInfo()
				if i%50 == 0 {
					tb.ConnClosed(name)
					clk.Advance(time.Second)
					tb.ScanNotActive(time.Hour)
				}
			}
		}(g)
	}
	wg.Wait()
	r, ok := tb.TopicRoute("T")
	if !ok || len(r.BrokerDatas) != 4 {
		t.Fatalf("final route %+v", r)
	}
}
