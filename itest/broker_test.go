package itest

import (
	"testing"
	"time"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/testutil"
)

// restartBroker checks that messages stored before a stop survive a restart on the same port and
// store: stop stops the broker (SIGTERM or SIGKILL).
func restartBroker(t *testing.T, topic string, stop func(*testutil.Broker)) {
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins,
		Broker: testutil.BrokerOptions{RegisterNameServerPeriod: 10000}})
	a := newAdmin(t, c.NamesrvAddr)
	if err := a.CreateTopic(ctxT(t, 5*time.Second), c.Broker.Addr, admin.TopicConfig{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, func() bool {
		_, err := a.TopicRoute(ctxT(t, 3*time.Second), topic)
		return err == nil
	}, "route of "+topic)
	rc := &rawClient{a: a, topic: topic, next: map[int32]int64{}}
	before := rc.send(t, "before", 40)
	// Read everything, so the pull offsets held by rc must still line up after the restart.
	rc.waitPulled(t, before, "messages before the restart")

	stop(c.Broker)
	testutil.WaitFor(t, 10*time.Second, func() bool { return !testutil.ListsBroker(c.NameServers[0].Addr, c.Broker.Addr) },
		"the name server to drop the stopped broker")
	br := testutil.StartBroker(t, bins.Broker, c.Broker.Options)

	// Everything stored before is still there from offset 0, and new messages follow it.
	fresh := &rawClient{a: a, topic: topic, next: map[int32]int64{}}
	after := rc.send(t, "after", 8)
	fresh.waitPulled(t, append(append([]string(nil), before...), after...), "all messages after the restart")
	rc.waitPulled(t, after, "new messages from the old offsets")
	br.StopOK()
	c.NameServers[0].StopOK()
}

// TestBrokerRestartAfterSIGTERM stops the broker gracefully (exit code 0) and starts it again.
func TestBrokerRestartAfterSIGTERM(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	restartBroker(t, "RestartTerm", func(b *testutil.Broker) { b.StopOK() })
}

// TestBrokerRestartAfterSIGKILL crashes the broker and starts it again: recovery keeps every
// acknowledged message (the OS keeps the page cache of an ASYNC_FLUSH store across a process
// crash).
func TestBrokerRestartAfterSIGKILL(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	restartBroker(t, "RestartKill", func(b *testutil.Broker) { b.Kill() })
}
