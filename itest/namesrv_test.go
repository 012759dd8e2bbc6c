package itest

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// newAdmin returns a client/admin for the given name servers.
func newAdmin(t *testing.T, ns ...string) *admin.Admin {
	t.Helper()
	a, err := admin.New(admin.WithNameServers(ns), admin.WithTimeout(3*time.Second), admin.WithLogger(testutil.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestNamesrvOneOfTwoKilled kills one of two name servers with SIGKILL: a bare-protocol producer
// and pull consumer that resolve routes through both carry on, admin calls fail over to the
// other, and a topic created afterwards is routed by the survivor.
func TestNamesrvOneOfTwoKilled(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, NameServers: 2,
		Broker: testutil.BrokerOptions{RegisterNameServerPeriod: 10000}})
	dead, alive := c.NameServers[0], c.NameServers[1]
	a := newAdmin(t, c.NameServers[0].Addr, c.NameServers[1].Addr)
	if err := a.CreateTopic(ctxT(t, 5*time.Second), c.Broker.Addr, admin.TopicConfig{TopicName: "BeforeKill", ReadQueueNums: 4, WriteQueueNums: 4}); err != nil {
		t.Fatal(err)
	}
	for _, ns := range c.NameServers {
		testutil.WaitFor(t, 15*time.Second, func() bool {
			code, _, err := testutil.RouteBody(ns.Addr, "BeforeKill", 2*time.Second)
			return err == nil && code == remoting.Success
		}, "route of BeforeKill on "+ns.Addr)
	}
	rc := &rawClient{a: a, topic: "BeforeKill", next: map[int32]int64{}}
	rc.waitPulled(t, rc.send(t, "before", 12), "messages sent before the kill")

	dead.Kill()
	if code := dead.ExitCode(); code != -1 {
		t.Fatalf("exit code after SIGKILL = %d", code)
	}
	// Producing and consuming carry on: routes now come from the survivor.
	rc.waitPulled(t, rc.send(t, "after", 12), "messages sent after the kill")
	for i := range 4 { // both starting points of the round robin
		ci, err := a.ClusterInfo(ctxT(t, 10*time.Second))
		if err != nil {
			t.Fatalf("ClusterInfo %d with one name server dead: %v", i, err)
		}
		if got, _ := ci.MasterAddrs(c.Broker.ClusterName); len(got) != 1 || got[0] != c.Broker.Addr {
			t.Fatalf("masters %v, want [%s]", got, c.Broker.Addr)
		}
	}
	if _, err := a.CreateTopicInCluster(ctxT(t, 10*time.Second), c.Broker.ClusterName, admin.DefaultTopicConfig("AfterKill")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, func() bool {
		r, err := a.TopicRoute(ctxT(t, 5*time.Second), "AfterKill")
		return err == nil && len(r.QueueDatas) == 1 && r.QueueDatas[0].WriteQueueNums == 8
	}, "route of AfterKill through the surviving name server")
	if !testutil.ListsBroker(alive.Addr, c.Broker.Addr) {
		t.Fatal("the surviving name server lost the broker")
	}

	c.Broker.StopOK()
	alive.StopOK()
}

// TestNamesrvRestartOnSamePortAfterKill kills a name server with SIGKILL and starts a new one on
// the same port at once (what an operator or supervisor does after a crash). The port must bind
// although the dead process's connections sit in TIME_WAIT (SO_REUSEADDR, as Java's Netty server
// sets), and the broker must register with it again within its 10 s period.
func TestNamesrvRestartOnSamePortAfterKill(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, NameServers: 2,
		Broker: testutil.BrokerOptions{RegisterNameServerPeriod: 10000}})
	dead := c.NameServers[0]
	dead.Kill()
	restarted := testutil.StartNamesrv(t, bins.Namesrv, testutil.NamesrvOptions{Port: dead.Port})
	testutil.WaitFor(t, 25*time.Second, func() bool { return testutil.ListsBroker(restarted.Addr, c.Broker.Addr) },
		"restarted name server to learn the broker again")
	code, body, err := testutil.RouteBody(restarted.Addr, "TBW102", 3*time.Second)
	if err != nil || code != remoting.Success || !strings.Contains(body, c.Broker.Addr) {
		t.Fatalf("route of TBW102 on the restarted name server: code %d body %s err %v", code, body, err)
	}
	c.Broker.StopOK()
	c.NameServers[1].StopOK()
	restarted.StopOK()
}

// TestNamesrvBrokerKilledRemovedOnClose kills the broker with SIGKILL: its connection closes and
// the name server drops it for that reason alone (the expiry is set to an hour).
func TestNamesrvBrokerKilledRemovedOnClose(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	// A broker expires only after an hour here, so a removal can only come from the closed
	// connection, however long the test machine takes.
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins,
		Namesrv: testutil.NamesrvOptions{BrokerChannelExpiredTime: 3600_000}})
	ns := c.NameServers[0]
	a := newAdmin(t, ns.Addr)
	if err := a.CreateTopic(ctxT(t, 5*time.Second), c.Broker.Addr, admin.DefaultTopicConfig("KilledTopic")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, func() bool {
		_, err := a.TopicRoute(ctxT(t, 3*time.Second), "KilledTopic")
		return err == nil
	}, "route of KilledTopic")

	c.Broker.Kill()
	testutil.WaitFor(t, 60*time.Second, func() bool { return !testutil.ListsBroker(ns.Addr, c.Broker.Addr) },
		"the name server to drop the killed broker")
	_, err := a.TopicRoute(ctxT(t, 3*time.Second), "KilledTopic")
	if !errors.Is(err, admin.ErrTopicNotExist) {
		t.Fatalf("route after the broker died: %v, want ErrTopicNotExist", err)
	}
	ns.StopOK()
}

// TestNamesrvExpiresStoppedBroker freezes the broker with SIGSTOP (its connection stays open, it
// stops registering): the name server removes it after brokerChannelExpiredTime. After SIGCONT the
// broker registers again.
func TestNamesrvExpiresStoppedBroker(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	const expire = 15000 // ms; above the broker's 10 s registration period, so a live broker stays
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins,
		Namesrv: testutil.NamesrvOptions{BrokerChannelExpiredTime: expire, ScanNotActiveBrokerInterval: 500},
		Broker:  testutil.BrokerOptions{RegisterNameServerPeriod: 10000}})
	ns := c.NameServers[0]
	if err := c.Broker.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	testutil.WaitFor(t, 45*time.Second, func() bool { return !testutil.ListsBroker(ns.Addr, c.Broker.Addr) },
		"the name server to expire the stopped broker")
	// The last registration happened at most at the SIGSTOP, so the removal cannot come earlier
	// than the expiry time minus one registration period.
	if waited := time.Since(stopped); waited < time.Duration(expire-10000)*time.Millisecond {
		t.Errorf("broker removed %v after SIGSTOP; expiry is %d ms", waited, expire)
	}
	if err := c.Broker.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, func() bool { return testutil.ListsBroker(ns.Addr, c.Broker.Addr) },
		"the resumed broker to register again")
	c.Broker.Kill()
	testutil.WaitFor(t, 10*time.Second, func() bool { return !testutil.ListsBroker(ns.Addr, c.Broker.Addr) },
		"the name server to drop the killed broker")
	ns.StopOK()
}
