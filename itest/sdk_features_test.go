package itest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// TestSDKOrderly: messages of each order (sharding key) go to one queue through the hash
// selector and an orderly consumer sees every order's steps in sequence, even when its handler
// asks to retry a step once.
func TestSDKOrderly(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKOrderly", 4)
	p := startProducer(t, c, producer.WithQueueSelector(producer.HashQueueSelector()))
	ctx := context.Background()
	const orders, steps = 12, 10
	queueOf := map[string]client.MessageQueue{}
	for s := 0; s < steps; s++ {
		for o := 0; o < orders; o++ {
			key := fmt.Sprintf("order-%d", o)
			m := client.NewMessage("SDKOrderly", []byte(fmt.Sprintf("%s:%d", key, s))).WithShardingKey(key).WithKeys(key)
			res, err := p.Send(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if q, ok := queueOf[key]; ok && q != res.Queue {
				t.Fatalf("%s went to %v and %v", key, q, res.Queue)
			}
			queueOf[key] = res.Queue
		}
	}
	var mu sync.Mutex
	next := map[string]int{}
	var outOfOrder []string
	retried := map[string]bool{}
	active := map[int32]int{} // queue id -> handlers running on it
	var overlap atomic.Bool
	total := 0
	h := func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		active[msgs[0].QueueID]++
		if active[msgs[0].QueueID] > 1 {
			overlap.Store(true)
		}
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		active[msgs[0].QueueID]--
		for _, m := range msgs {
			key := m.Keys[0]
			s, _ := strconv.Atoi(string(m.Body[len(key)+1:]))
			if s == 3 && !retried[key] {
				retried[key] = true
				return consumer.ConsumeRetryLater
			}
		}
		for _, m := range msgs {
			key := m.Keys[0]
			s, _ := strconv.Atoi(string(m.Body[len(key)+1:]))
			if s != next[key] {
				outOfOrder = append(outOfOrder, fmt.Sprintf("%s: got step %d, want %d", key, s, next[key]))
			}
			next[key] = s + 1
			total++
		}
		return consumer.ConsumeSuccess
	}
	opts := append(fastConsumer(c), consumer.WithOrderly(true), consumer.WithBatchSize(2), consumer.WithSuspendTime(100*time.Millisecond))
	oc := startPush(t, "cg-orderly", "SDKOrderly", "*", h, opts...)
	waitFor(t, 30*time.Second, "every step consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return total >= orders*steps
	})
	// The consumer holds the broker's lock on its queues: another client of the group is refused.
	var mqs []string
	for _, q := range oc.Assigned() {
		if q.Topic == "SDKOrderly" {
			mqs = append(mqs, fmt.Sprintf(`{"topic":%q,"brokerName":%q,"queueId":%d}`, q.Topic, q.BrokerName, q.QueueID))
		}
	}
	if len(mqs) != 4 {
		t.Fatalf("orderly consumer owns %d queues, want 4", len(mqs))
	}
	lockReq := func(clientID string) string {
		body := fmt.Sprintf(`{"consumerGroup":"cg-orderly","clientId":%q,"mqSet":[%s]}`, clientID, strings.Join(mqs, ","))
		resp, err := testutil.Call(c.Broker.Addr, remoting.NewRequest(remoting.LockBatchMQ, nil, []byte(body)), 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return string(resp.Body)
	}
	if got := lockReq("127.0.0.9@intruder"); strings.Contains(got, "SDKOrderly") {
		t.Fatalf("another client locked the orderly consumer's queues: %s", got)
	}
	if got := lockReq(oc.ClientID()); strings.Count(got, "SDKOrderly") != 4 {
		t.Fatalf("the owner's lock is not held: %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(outOfOrder) > 0 {
		t.Fatalf("out of order: %v", outOfOrder)
	}
	if overlap.Load() {
		t.Fatal("two handlers ran on one queue at once")
	}
	if len(retried) != orders {
		t.Fatalf("retried %d orders, want %d", len(retried), orders)
	}
}

// TestSDKDelay: a message with delay level 2 (2 s with the test's levels) is not delivered
// before the delay and is delivered after it.
func TestSDKDelay(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKDelay", 2)
	col := newCollector()
	var got atomic.Int64
	recv := map[string]time.Time{}
	var mu sync.Mutex
	h := func(ctx context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		for _, m := range msgs {
			recv[string(m.Body)] = time.Now()
		}
		mu.Unlock()
		got.Add(int64(len(msgs)))
		return col.handler("a")(ctx, msgs)
	}
	startPush(t, "cg-delay", "SDKDelay", "*", h, append(fastConsumer(c), consumer.WithConsumeFrom(consumer.ConsumeFromLastOffset))...)
	p := startProducer(t, c)
	ctx := context.Background()
	sent := map[string]time.Time{}
	for i := 0; i < 5; i++ {
		b := body("delay", i)
		sent[string(b)] = time.Now()
		if _, err := p.Send(ctx, client.NewMessage("SDKDelay", b).WithDelayLevel(2)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Send(ctx, client.NewMessage("SDKDelay", []byte("now"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the undelayed message", func() bool { return col.distinct() >= 1 })
	mu.Lock()
	early := len(recv)
	mu.Unlock()
	if early != 1 {
		t.Fatalf("%d messages delivered before the delay, want only the undelayed one", early)
	}
	waitFor(t, 20*time.Second, "the delayed messages", func() bool { return col.distinct() >= 6 })
	mu.Lock()
	defer mu.Unlock()
	for b, s := range sent {
		d := recv[b].Sub(s)
		if d < 1900*time.Millisecond {
			t.Errorf("%s delivered after %v, before its 2 s delay", b, d)
		}
		t.Logf("%s delivered after %v", b, d)
	}
}

type txListener struct {
	mu      sync.Mutex
	checked map[string]int
}

func (l *txListener) ExecuteLocalTransaction(_ context.Context, m *client.Message) producer.LocalTransactionState {
	switch m.Property("outcome") {
	case "commit":
		return producer.Commit
	case "rollback":
		return producer.Rollback
	}
	return producer.Unknown
}

func (l *txListener) CheckLocalTransaction(m *client.MessageExt) producer.LocalTransactionState {
	l.mu.Lock()
	l.checked[string(m.Body)]++
	l.mu.Unlock()
	if m.Property("outcome") == "unknown-commit" {
		return producer.Commit
	}
	return producer.Rollback
}

// TestSDKTransaction: committed messages are delivered, rolled-back ones never; an unknown
// outcome is resolved by the broker's check-back (commit or rollback).
func TestSDKTransaction(t *testing.T) {
	c := sdkCluster(t, map[string]string{"transactionCheckInterval": "1000", "transactionTimeOut": "1000"})
	createTopic(t, c, "SDKTx", 2)
	l := &txListener{checked: map[string]int{}}
	tp, err := producer.NewTransactionProducer(l, producer.WithNameServers(c.NamesrvAddr), producer.WithGroup("pg-tx"),
		producer.WithLogger(testLogger(t)), producer.WithHeartbeatInterval(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	col := newCollector()
	startPush(t, "cg-tx", "SDKTx", "*", col.handler("a"), fastConsumer(c)...)
	ctx := context.Background()
	outcomes := []string{"commit", "rollback", "unknown-commit", "unknown-rollback"}
	for i := 0; i < 8; i++ {
		o := outcomes[i%4]
		m := client.NewMessage("SDKTx", []byte(fmt.Sprintf("%s-%d", o, i))).WithProperty("outcome", o).WithTags("tx")
		res, err := tp.SendMessageInTransaction(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != client.SendOK || res.MsgID == "" {
			t.Fatalf("half message result %v", res.SendResult)
		}
	}
	waitFor(t, 40*time.Second, "committed and checked-back messages", func() bool { return col.distinct() >= 4 })
	// Once the check-back has answered Rollback for both unknown-rollback messages, every
	// transaction is decided; the topic then holds exactly the 4 committed messages, so a
	// rolled-back one can never be delivered (no grace period needed).
	waitFor(t, 40*time.Second, "the check-back of the unknown-rollback messages", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.checked["unknown-rollback-3"] > 0 && l.checked["unknown-rollback-7"] > 0
	})
	adm, err := admin.New(admin.WithNameServers(c.NamesrvList()))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	status, err := adm.TopicStatus(ctx, "SDKTx")
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	for _, q := range status {
		stored += q.MaxOffset - q.MinOffset
	}
	if stored != 4 {
		t.Fatalf("topic SDKTx holds %d messages, want the 4 committed ones: %+v", stored, status)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	want := map[string]bool{"commit-0": true, "commit-4": true, "unknown-commit-2": true, "unknown-commit-6": true}
	if len(col.count) != len(want) {
		t.Fatalf("delivered %v, want %v", col.count, want)
	}
	for b := range col.count {
		if !want[b] {
			t.Errorf("%s delivered", b)
		}
	}
	for _, m := range col.msgs {
		if m.Tags != "tx" || m.Property("outcome") == "" {
			t.Errorf("transactional message lost tags or properties: %v %v", m.Tags, m.Properties())
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range []string{"unknown-commit-2", "unknown-rollback-3"} {
		if l.checked[b] == 0 {
			t.Errorf("%s was never checked back", b)
		}
	}
	if l.checked["commit-0"] != 0 || l.checked["rollback-1"] != 0 {
		t.Errorf("ended transactions were checked: %v", l.checked)
	}
}

// TestSDKRetryAndDLQ: a message its handler always refuses is redelivered through the retry
// topic with growing ReconsumeTimes and lands in %DLQ%<group> after the maximum reconsume times;
// a message refused once is delivered again and then consumed.
func TestSDKRetryAndDLQ(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKRetry", 1)
	p := startProducer(t, c)
	ctx := context.Background()
	for _, b := range []string{"poison", "flaky"} {
		if _, err := p.Send(ctx, client.NewMessage("SDKRetry", []byte(b)).WithTags("r").WithKeys("key-"+b)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	attempts := map[string][]int32{}
	done := map[string]bool{}
	h := func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		m := msgs[0]
		b := string(m.Body)
		attempts[b] = append(attempts[b], m.ReconsumeTimes)
		if m.Topic != "SDKRetry" || m.Tags != "r" || len(m.Keys) != 1 {
			t.Errorf("redelivered message lost its topic/tags/keys: %v", m)
		}
		if b == "flaky" && m.ReconsumeTimes >= 1 {
			done[b] = true
			return consumer.ConsumeSuccess
		}
		return consumer.ConsumeRetryLater
	}
	startPush(t, "cg-retry", "SDKRetry", "*", h, append(fastConsumer(c), consumer.WithMaxReconsumeTimes(2),
		consumer.WithRouteInterval(time.Second))...)
	waitFor(t, 40*time.Second, "poison delivered 3 times and flaky consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts["poison"]) >= 3 && done["flaky"]
	})
	a, err := admin.New(admin.WithNameServers(c.NamesrvList()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var dlq []admin.MessageView
	waitFor(t, 20*time.Second, "the poison message in the DLQ", func() bool {
		dlq, err = a.PullMessages(ctx, "%DLQ%cg-retry", c.Broker.Name, 0, 0, 10)
		return err == nil && len(dlq) > 0
	})
	if len(dlq) != 1 || string(dlq[0].Body) != "poison" {
		t.Fatalf("DLQ holds %d messages: %+v", len(dlq), dlq)
	}
	// The third delivery was recorded before its handler returned the RetryLater that sent the
	// message to the DLQ, and the group never reads its DLQ: nothing more can arrive.
	mu.Lock()
	defer mu.Unlock()
	if got := attempts["poison"]; len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("poison delivered with reconsume times %v, want [0 1 2]", got)
	}
}

// TestSDKBroadcast: every broadcasting consumer of a group gets every message, and a restarted
// one resumes from its local offsets file.
func TestSDKBroadcast(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKBroadcast", 4)
	dir := t.TempDir()
	cols := []*collector{newCollector(), newCollector(), newCollector()}
	var pcs []*consumer.PushConsumer
	for i, col := range cols {
		opts := append(fastConsumer(c), consumer.WithModel(consumer.Broadcasting), consumer.WithOffsetDir(dir),
			consumer.WithInstanceName(fmt.Sprintf("bc-%d", i)))
		pcs = append(pcs, startPush(t, "cg-broadcast", "SDKBroadcast", "*", col.handler(fmt.Sprint(i)), opts...))
	}
	p := startProducer(t, c)
	ctx := context.Background()
	const n = 60
	for i := 0; i < n; i++ {
		if _, err := p.Send(ctx, client.NewMessage("SDKBroadcast", body("bc", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, col := range cols {
		waitFor(t, 20*time.Second, fmt.Sprintf("consumer %d to get all %d", i, n), func() bool { return col.distinct() >= n })
	}
	if err := pcs[0].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for i := n; i < n+10; i++ {
		if _, err := p.Send(ctx, client.NewMessage("SDKBroadcast", body("bc", i))); err != nil {
			t.Fatal(err)
		}
	}
	again := newCollector()
	opts := append(fastConsumer(c), consumer.WithModel(consumer.Broadcasting), consumer.WithOffsetDir(dir),
		consumer.WithInstanceName("bc-0"))
	restarted := startPush(t, "cg-broadcast", "SDKBroadcast", "*", again.handler("0"), opts...)
	waitFor(t, 20*time.Second, "the restarted consumer to get the 10 new messages", func() bool { return again.distinct() >= 10 })
	// A queue's messages reach the workers in offset order, so an older message would have been
	// handed to a worker before the newest ones; Shutdown waits for every running handler, after
	// which nothing more is recorded (no grace period needed).
	if err := restarted.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	again.mu.Lock()
	defer again.mu.Unlock()
	if len(again.count) != 10 {
		t.Fatalf("restarted broadcasting consumer got %d messages, want the 10 new ones (offsets file not used?)", len(again.count))
	}
	for i, col := range cols {
		col.mu.Lock()
		for b, k := range col.count {
			if k != 1 {
				t.Errorf("consumer %d got %s %d times", i, b, k)
			}
		}
		col.mu.Unlock()
	}
}

// TestSDKRebalance: a second consumer joining takes over part of the queues and a consumer
// leaving hands its queues back, while a producer keeps sending; every message is consumed (at
// least once; duplicates only around the handovers).
func TestSDKRebalance(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKRebalance", 8)
	col := newCollector()
	a := startPush(t, "cg-rebalance", "SDKRebalance", "*", col.handler("a"), fastConsumer(c)...)
	waitFor(t, 10*time.Second, "consumer a to own all 8 queues", func() bool { return countTopic(a.Assigned(), "SDKRebalance") == 8 })
	p := startProducer(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	var sent atomic.Int64
	var sendErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 3000 && ctx.Err() == nil; i++ {
			if _, err := p.Send(context.Background(), client.NewMessage("SDKRebalance", body("rb", i))); err != nil {
				sendErr.Store(err)
				return
			}
			sent.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitFor(t, 10*time.Second, "some messages", func() bool { return col.distinct() > 100 })
	b := startPush(t, "cg-rebalance", "SDKRebalance", "*", col.handler("b"), fastConsumer(c)...)
	waitFor(t, 15*time.Second, "the queues split 4/4", func() bool {
		return countTopic(a.Assigned(), "SDKRebalance") == 4 && countTopic(b.Assigned(), "SDKRebalance") == 4
	})
	waitFor(t, 10*time.Second, "b to consume", func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		for _, who := range col.by {
			if who == "b" {
				return true
			}
		}
		return false
	})
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "b to own all 8 queues", func() bool { return countTopic(b.Assigned(), "SDKRebalance") == 8 })
	atHandover := col.distinct()
	waitFor(t, 15*time.Second, "50 more messages after b took every queue", func() bool { return col.distinct() >= atHandover+50 })
	cancel()
	wg.Wait()
	if err, _ := sendErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	n := int(sent.Load())
	waitFor(t, 30*time.Second, fmt.Sprintf("all %d messages", n), func() bool { return col.distinct() >= n })
	col.mu.Lock()
	defer col.mu.Unlock()
	// Duplicates only come from the handovers: a message a consumed but had not committed when
	// its queue moved to b is delivered again, to b. Queues only move from a to b here, so a
	// duplicate is delivered exactly twice, once to each (a may finish a batch it had in hand
	// after b began, so the order is either); never twice to one consumer.
	dups := 0
	for body, who := range col.who {
		if len(who) == 1 {
			continue
		}
		dups += len(who) - 1
		if len(who) != 2 || who[0] == who[1] {
			t.Errorf("message %s was delivered to %v; a duplicate must be a handover from a to b", body, who)
		}
	}
	t.Logf("sent %d, consumed %d distinct, %d duplicates (each a handover from a to b)", n, len(col.count), dups)
}

func countTopic(qs []client.MessageQueue, topic string) int {
	n := 0
	for _, q := range qs {
		if q.Topic == topic {
			n++
		}
	}
	return n
}

// TestSDKPullConsumer: pull each queue from its committed offset, commit, and resume there.
func TestSDKPullConsumer(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKPull", 2)
	p := startProducer(t, c)
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		if _, err := p.Send(ctx, client.NewMessage("SDKPull", body("pull", i)).WithTags([]string{"X", "Y"}[i%2])); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := consumer.NewPullConsumer("cg-pull", consumer.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown(ctx)
	qs, err := pc.Queues(ctx, "SDKPull")
	if err != nil || len(qs) != 2 {
		t.Fatalf("queues %v, %v", qs, err)
	}
	// The broker builds consume queues asynchronously: wait until all 40 are dispatched.
	waitFor(t, 10*time.Second, "40 messages in the consume queues", func() bool {
		sum := int64(0)
		for _, q := range qs {
			m, err := pc.MaxOffset(ctx, q)
			if err != nil {
				return false
			}
			sum += m
		}
		return sum == 40
	})
	seen := map[string]bool{}
	for _, q := range qs {
		off, err := pc.CommittedOffset(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if off < 0 {
			off, _ = pc.MinOffset(ctx, q)
		}
		maxOff, err := pc.MaxOffset(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for off < maxOff {
			res, err := pc.Pull(ctx, q, "X", off, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range res.Messages {
				if m.Tags != "X" {
					t.Fatalf("tag filter X let %q through", m.Tags)
				}
				seen[string(m.Body)] = true
			}
			off = res.NextBeginOffset
		}
		if err := pc.CommitOffset(ctx, q, off); err != nil {
			t.Fatal(err)
		}
		if got, err := pc.CommittedOffset(ctx, q); err != nil || got != off {
			t.Fatalf("committed offset %d, %v; want %d", got, err, off)
		}
		res, err := pc.Pull(ctx, q, "*", off, 10)
		if err != nil || res.Status != client.PullNoNewMsg {
			t.Fatalf("pull at the end: %v %v", res, err)
		}
	}
	if len(seen) != 20 {
		t.Fatalf("pulled %d X messages, want 20", len(seen))
	}
	if _, err := pc.Pull(ctx, client.MessageQueue{Topic: "SDKPull", BrokerName: c.Broker.Name, QueueID: 0}, "*", -1, 10); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("negative offset: %v", err)
	}
}

// TestSDKErrors: typed errors name what went wrong.
func TestSDKErrors(t *testing.T) {
	c := sdkCluster(t, map[string]string{"autoCreateTopicEnable": "false"})
	p := startProducer(t, c, producer.WithRetries(1))
	ctx := context.Background()
	_, err := p.Send(ctx, client.NewMessage("NoSuchTopic", []byte("x")))
	if !errors.Is(err, client.ErrTopicNotExist) {
		t.Fatalf("send to a missing topic: %v", err)
	}
	if _, err := p.Send(ctx, client.NewMessage("bad topic!", []byte("x"))); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("bad topic: %v", err)
	}
	if _, err := p.SendBatch(ctx, nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("nil batch member: %v", err)
	}
	if _, err := p.SendToQueue(ctx, nil, client.MessageQueue{Topic: "SDKErr"}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("nil message to a queue: %v", err)
	}
	createTopic(t, c, "SDKErr", 1)
	if _, err := p.Send(ctx, client.NewMessage("SDKErr", make([]byte, 5<<20))); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("oversize body: %v", err)
	}
	dead, err := producer.New(producer.WithNameServers("127.0.0.1:1"), producer.WithSendTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	defer dead.Shutdown(ctx)
	if _, err := dead.Send(ctx, client.NewMessage("SDKErr", []byte("x"))); !errors.Is(err, client.ErrConnect) {
		t.Fatalf("dead name server: %v", err)
	}
}

// TestSDKConcurrentBatches: WithBatchSize bounds how many messages one handler call gets and
// WithGoroutines how many calls run at once.
func TestSDKConcurrentBatches(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKBatches", 4)
	p := startProducer(t, c)
	ctx := context.Background()
	const n = 400
	for i := 0; i < n; i += 10 {
		var msgs []*client.Message
		for j := i; j < i+10; j++ {
			msgs = append(msgs, client.NewMessage("SDKBatches", body("cb", j)))
		}
		if _, err := p.SendBatch(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	var running, maxRunning, maxBatch atomic.Int64
	col := newCollector()
	inner := col.handler("a")
	h := func(ctx context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		now := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if now <= m || maxRunning.CompareAndSwap(m, now) {
				break
			}
		}
		for {
			m := maxBatch.Load()
			if int64(len(msgs)) <= m || maxBatch.CompareAndSwap(m, int64(len(msgs))) {
				break
			}
		}
		// Hold every call until three run at once (or a generous 10 s passes): the test then
		// sees the consumer's full parallelism instead of hoping for an overlap; a fourth call
		// at once would break the WithGoroutines bound.
		deadline := time.Now().Add(10 * time.Second)
		for maxRunning.Load() < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return inner(ctx, msgs)
	}
	startPush(t, "cg-batches", "SDKBatches", "*", h, append(fastConsumer(c), consumer.WithBatchSize(8), consumer.WithGoroutines(3))...)
	waitFor(t, 30*time.Second, "every message", func() bool { return col.distinct() >= n })
	t.Logf("largest batch %d, most handlers at once %d", maxBatch.Load(), maxRunning.Load())
	if maxBatch.Load() < 2 || maxBatch.Load() > 8 {
		t.Errorf("largest batch %d, want 2..8", maxBatch.Load())
	}
	if maxRunning.Load() != 3 {
		t.Errorf("at most %d handlers ran at once, want exactly WithGoroutines(3)", maxRunning.Load())
	}
}

// TestSDKOrderlyHandover: while a producer keeps sending ordered steps, a second orderly
// consumer joins and the first leaves; across both handovers every order's steps are consumed
// exactly in sequence (the leaving consumer commits before it releases the broker lock, and the
// next owner starts from that offset once it holds the lock).
func TestSDKOrderlyHandover(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKOrderHand", 4)
	p := startProducer(t, c, producer.WithQueueSelector(producer.HashQueueSelector()))
	var mu sync.Mutex
	next := map[string]int{}
	var bad []string
	total := 0
	last := map[string]string{}
	handler := func(who string) consumer.Handler {
		return func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				key := m.Keys[0]
				s, _ := strconv.Atoi(string(m.Body[len(key)+1:]))
				where := fmt.Sprintf("%s q%d@%d", who, m.QueueID, m.QueueOffset)
				if s != next[key] {
					bad = append(bad, fmt.Sprintf("%s: step %d (%s) after %d (%s)", key, s, where, next[key]-1, last[key]))
				}
				next[key] = s + 1
				last[key] = where
				total++
			}
			return consumer.ConsumeSuccess
		}
	}
	opts := append(fastConsumer(c), consumer.WithOrderly(true))
	a := startPush(t, "cg-orderhand", "SDKOrderHand", "*", handler("a"), opts...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const orders = 16
	var sent atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for s := 0; s < 400 && ctx.Err() == nil; s++ {
			for o := 0; o < orders; o++ {
				key := fmt.Sprintf("o%d", o)
				if _, err := p.Send(context.Background(), client.NewMessage("SDKOrderHand", []byte(fmt.Sprintf("%s:%d", key, s))).WithShardingKey(key).WithKeys(key)); err != nil {
					t.Errorf("send: %v", err)
					return
				}
				sent.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	waitFor(t, 10*time.Second, "consumption", func() bool { mu.Lock(); defer mu.Unlock(); return total > 100 })
	b := startPush(t, "cg-orderhand", "SDKOrderHand", "*", handler("b"), opts...)
	waitFor(t, 20*time.Second, "the queues split", func() bool {
		return countTopic(a.Assigned(), "SDKOrderHand") == 2 && countTopic(b.Assigned(), "SDKOrderHand") == 2
	})
	consumed := func() int { mu.Lock(); defer mu.Unlock(); return total }
	split := consumed()
	waitFor(t, 20*time.Second, "50 more steps with the queues split", func() bool { return consumed() >= split+50 })
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "b to own every queue", func() bool { return countTopic(b.Assigned(), "SDKOrderHand") == 4 })
	alone := consumed()
	waitFor(t, 20*time.Second, "50 more steps with b alone", func() bool { return consumed() >= alone+50 })
	cancel()
	wg.Wait()
	n := int(sent.Load())
	waitFor(t, 60*time.Second, fmt.Sprintf("all %d steps", n), func() bool { mu.Lock(); defer mu.Unlock(); return total >= n })
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%d steps out of order or repeated, e.g. %v", len(bad), bad[:min(5, len(bad))])
	}
	if total != n {
		t.Fatalf("consumed %d steps, sent %d", total, n)
	}
}
