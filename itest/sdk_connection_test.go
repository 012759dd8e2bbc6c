package itest

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
	"github.com/skiffmq/skiff/internal/testutil"
)

// TestSDKNameServerFailoverAndBrokerRestart: with two name servers, killing the first does not
// stop producer or consumer (routes come from the second); after the broker is SIGKILLed and
// restarted on the same port, both reconnect and every acknowledged message is consumed.
func TestSDKNameServerFailoverAndBrokerRestart(t *testing.T) {
	needProcesses(t)
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, NameServers: 2,
		Broker: testutil.BrokerOptions{RegisterNameServerPeriod: 10000}})
	createTopic(t, c, "SDKFailover", 2)
	p := startProducer(t, c, producer.WithRouteInterval(time.Second), producer.WithSendTimeout(time.Second))
	col := newCollector()
	startPush(t, "cg-failover", "SDKFailover", "*", col.handler("a"),
		append(fastConsumer(c), consumer.WithRouteInterval(time.Second), consumer.WithHeartbeatInterval(time.Second))...)
	ctx := context.Background()
	acked := map[string]bool{}
	send := func(i int) error {
		b := body("fo", i)
		_, err := p.Send(ctx, client.NewMessage("SDKFailover", b))
		if err == nil {
			acked[string(b)] = true
		}
		return err
	}
	for i := 0; i < 20; i++ {
		if err := send(i); err != nil {
			t.Fatal(err)
		}
	}
	c.NameServers[0].Kill()
	time.Sleep(1500 * time.Millisecond) // a route refresh or two against the dead name server
	for i := 20; i < 40; i++ {
		if err := send(i); err != nil {
			t.Fatalf("send with the first name server down: %v", err)
		}
	}
	waitFor(t, 20*time.Second, "40 messages", func() bool { return col.distinct() >= 40 })

	opts := c.Broker.Options
	opts.NamesrvAddr = c.NameServers[1].Addr // StartBroker waits for every listed name server
	if err := c.Broker.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.Broker.Done()
	failed := 0
	for i := 40; i < 45; i++ {
		if send(i) != nil {
			failed++
		}
	}
	if failed != 5 {
		t.Fatalf("%d of 5 sends to a dead broker failed", failed)
	}
	c.Broker = testutil.StartBroker(t, bins.Broker, opts)
	i := 45
	waitFor(t, 30*time.Second, "a send to the restarted broker", func() bool {
		err := send(i)
		i++
		return err == nil
	})
	for j := 0; j < 20; j, i = j+1, i+1 {
		if err := send(i); err != nil {
			t.Fatalf("send after the restart: %v", err)
		}
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("all %d acknowledged messages", len(acked)), func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		for b := range acked {
			if col.count[b] == 0 {
				return false
			}
		}
		return true
	})
}

// TestSDKRetryOnAnotherBroker: with two broker sets, a producer whose first set dies keeps
// sending without an error: the failed attempt is retried on the other set, which is then
// preferred.
func TestSDKRetryOnAnotherBroker(t *testing.T) {
	c := sdkCluster(t, nil)
	b2 := testutil.StartBroker(t, bins.Broker, testutil.BrokerOptions{BrokerName: "broker-b", NamesrvAddr: c.NamesrvAddr})
	for _, addr := range []string{c.Broker.Addr, b2.Addr} {
		a, err := admin.New(admin.WithNameServers(c.NamesrvList()))
		if err != nil {
			t.Fatal(err)
		}
		tc := admin.DefaultTopicConfig("SDKTwoSets")
		tc.ReadQueueNums, tc.WriteQueueNums = 2, 2
		if err := a.CreateTopic(context.Background(), addr, tc); err != nil {
			t.Fatal(err)
		}
		a.Close()
	}
	a, _ := admin.New(admin.WithNameServers(c.NamesrvList()))
	defer a.Close()
	waitFor(t, 10*time.Second, "a route over both sets", func() bool {
		r, err := a.TopicRoute(context.Background(), "SDKTwoSets")
		return err == nil && len(r.QueueDatas) == 2
	})
	p := startProducer(t, c, producer.WithSendTimeout(time.Second))
	ctx := context.Background()
	per := map[string]int{}
	for i := 0; i < 20; i++ {
		res, err := p.Send(ctx, client.NewMessage("SDKTwoSets", body("two", i)))
		if err != nil {
			t.Fatal(err)
		}
		per[res.Queue.BrokerName]++
	}
	if per["broker-a"] == 0 || per["broker-b"] == 0 {
		t.Fatalf("round robin did not use both sets: %v", per)
	}
	c.Broker.Kill()
	per = map[string]int{}
	for i := 20; i < 120; i++ {
		res, err := p.Send(ctx, client.NewMessage("SDKTwoSets", body("two", i)))
		if err != nil {
			t.Fatalf("send %d with broker-a down: %v", i, err)
		}
		per[res.Queue.BrokerName]++
	}
	if per["broker-b"] != 100 {
		t.Fatalf("sends with broker-a down went to %v", per)
	}
}

// TestSDKShutdownCommitsOffsets: Shutdown commits what was consumed (the periodic commit is
// off) and unregisters; the next consumer of the group starts after it. A new group reading from
// a timestamp gets only later messages.
func TestSDKShutdownCommitsOffsets(t *testing.T) {
	c := sdkCluster(t, map[string]string{"accessMessageInMemoryMaxRatio": "0"})
	createTopic(t, c, "SDKCommit", 2)
	p := startProducer(t, c)
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		if _, err := p.Send(ctx, client.NewMessage("SDKCommit", body("c1", i))); err != nil {
			t.Fatal(err)
		}
	}
	col := newCollector()
	opts := append(fastConsumer(c), consumer.WithCommitInterval(time.Hour))
	pc := startPush(t, "cg-commit", "SDKCommit", "*", col.handler("a"), opts...)
	waitFor(t, 20*time.Second, "30 messages", func() bool { return col.distinct() >= 30 })
	if err := pc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := admin.New(admin.WithNameServers(c.NamesrvList()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	prog, err := a.ConsumerProgress(ctx, []string{c.Broker.Addr}, "cg-commit", "SDKCommit")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	for _, q := range prog {
		committed += q.ConsumerOffset
		if q.ConsumerOffset != q.BrokerOffset {
			t.Errorf("queue %d: committed %d of %d after shutdown", q.QueueID, q.ConsumerOffset, q.BrokerOffset)
		}
	}
	if len(prog) != 2 || committed != 30 {
		t.Fatalf("progress after shutdown: %d queues with %d committed in all, want both queues and all 30: %+v", len(prog), committed, prog)
	}
	if conn, err := a.ConsumerConnection(ctx, c.Broker.Addr, "cg-commit"); err == nil && len(conn.ConnectionSet) > 0 {
		t.Errorf("consumer still registered after shutdown: %+v", conn.ConnectionSet)
	}
	// A group reading from a timestamp starts at the entry nearest it by store time: put the
	// timestamp well after the last stored message (by its store time), so the nearest is the
	// next one sent.
	var lastStored time.Time
	col.mu.Lock()
	for _, m := range col.msgs {
		if m.StoreTimestamp.After(lastStored) {
			lastStored = m.StoreTimestamp
		}
	}
	col.mu.Unlock()
	waitFor(t, 10*time.Second, "the clock to pass the last store time by a second", func() bool {
		return time.Since(lastStored) > time.Second
	})
	since := time.Now()
	for i := 0; i < 10; i++ {
		if _, err := p.Send(ctx, client.NewMessage("SDKCommit", body("c2", i))); err != nil {
			t.Fatal(err)
		}
	}
	again := newCollector()
	startPush(t, "cg-commit", "SDKCommit", "*", again.handler("b"), fastConsumer(c)...)
	fresh := newCollector()
	startPush(t, "cg-commit-ts", "SDKCommit", "*", fresh.handler("c"),
		append(fastConsumer(c), consumer.WithConsumeTimestamp(since))...)
	// A new group starting from the last offset sees only what is sent after it started.
	last := newCollector()
	lc := startPush(t, "cg-commit-last", "SDKCommit", "*", last.handler("d"),
		append(fastConsumer(c), consumer.WithConsumeFrom(consumer.ConsumeFromLastOffset))...)
	waitFor(t, 10*time.Second, "the last-offset group to own both queues", func() bool { return countTopic(lc.Assigned(), "SDKCommit") == 2 })
	for i := 0; i < 5; i++ {
		if _, err := p.Send(ctx, client.NewMessage("SDKCommit", body("c3", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "the new messages in every group", func() bool {
		return again.distinct() >= 15 && fresh.distinct() >= 15 && last.distinct() >= 5
	})
	// Nothing older can still arrive once each group's committed offset has reached the end of
	// both queues: a queue is consumed in offset order, so an older message would come before
	// the newest ones (no grace period needed).
	for _, g := range []string{"cg-commit", "cg-commit-ts", "cg-commit-last"} {
		waitFor(t, 20*time.Second, g+" to commit up to the end of both queues", func() bool {
			prog, err := a.ConsumerProgress(ctx, []string{c.Broker.Addr}, g, "SDKCommit")
			if err != nil || len(prog) != 2 {
				return false
			}
			for _, q := range prog {
				if q.ConsumerOffset != q.BrokerOffset {
					return false
				}
			}
			return true
		})
	}
	for name, col := range map[string]*collector{"restarted group": again, "timestamp group": fresh, "last-offset group": last} {
		want := 15
		if col == last {
			want = 5
		}
		col.mu.Lock()
		if len(col.count) != want {
			t.Errorf("%s consumed %d messages, want only the %d new ones", name, len(col.count), want)
		}
		col.mu.Unlock()
	}
}

// TestSDKResetOffset: resetting a running group's offsets to an earlier time makes it consume
// the messages again.
func TestSDKResetOffset(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKReset", 2)
	p := startProducer(t, c)
	ctx := context.Background()
	start := time.Now().Add(-time.Second)
	for i := 0; i < 20; i++ {
		if _, err := p.Send(ctx, client.NewMessage("SDKReset", body("rs", i))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	total := 0
	h := func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		total += len(msgs)
		mu.Unlock()
		return consumer.ConsumeSuccess
	}
	startPush(t, "cg-reset", "SDKReset", "*", h, fastConsumer(c)...)
	waitFor(t, 20*time.Second, "20 messages", func() bool { mu.Lock(); defer mu.Unlock(); return total >= 20 })
	a, err := admin.New(admin.WithNameServers(c.NamesrvList()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, 20*time.Second, "the offsets of all 20 to be committed", func() bool {
		prog, err := a.ConsumerProgress(ctx, []string{c.Broker.Addr}, "cg-reset", "SDKReset")
		var committed int64
		for _, q := range prog {
			committed += q.ConsumerOffset
		}
		return err == nil && len(prog) == 2 && committed == 20
	})
	if _, err := a.ResetOffsetByTime(ctx, "cg-reset", "SDKReset", start.UnixMilli(), true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the 20 messages again", func() bool { mu.Lock(); defer mu.Unlock(); return total >= 40 })
}
