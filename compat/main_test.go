package compat

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	rmqadmin "github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/skiffmq/skiff/internal/testutil"
)

// bins holds mqnamesrv and mqbroker, built once by TestMain.
var bins *testutil.Binaries

func TestMain(m *testing.M) {
	flag.Parse()
	rlog.SetLogLevel("error")
	if testing.Short() {
		os.Exit(m.Run())
	}
	b, err := testutil.BuildBinaries("mqnamesrv", "mqbroker")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bins = b
	code := m.Run()
	b.Cleanup()
	os.Exit(code)
}

func needProcesses(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real processes; skipped under -short")
	}
}

// startCluster starts nameServers name servers and one broker that registers every 10 s.
func startCluster(t *testing.T, nameServers int) *testutil.Cluster {
	t.Helper()
	return testutil.StartCluster(t, testutil.ClusterOptions{
		Bins:        bins,
		NameServers: nameServers,
		Broker:      testutil.BrokerOptions{RegisterNameServerPeriod: 10000},
	})
}

// adminMu serializes uses of the official admin client: it always uses the instance name
// DEFAULT, and two live instances with different name servers are refused.
var adminMu sync.Mutex

// createTopic creates topic with queues read and write queues on the cluster's broker using the
// official admin API, then waits until every name server routes it with that queue count.
func createTopic(t *testing.T, c *testutil.Cluster, topic string, queues int) {
	t.Helper()
	adminMu.Lock()
	a, err := rmqadmin.NewAdmin(rmqadmin.WithResolver(primitive.NewPassthroughResolver(c.NamesrvList())))
	if err != nil {
		adminMu.Unlock()
		t.Fatalf("NewAdmin: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = a.CreateTopic(ctx, rmqadmin.WithTopicCreate(topic), rmqadmin.WithBrokerAddrCreate(c.Broker.Addr),
		rmqadmin.WithReadQueueNums(queues), rmqadmin.WithWriteQueueNums(queues))
	cancel()
	_ = a.Close()
	adminMu.Unlock()
	if err != nil {
		t.Fatalf("CreateTopic %s: %v", topic, err)
	}
	want := `"writeQueueNums":` + strconv.Itoa(queues)
	for _, ns := range c.NamesrvList() {
		testutil.WaitFor(t, 15*time.Second, func() bool {
			code, body, err := testutil.RouteBody(ns, topic, 2*time.Second)
			return err == nil && code == 0 && strings.Contains(body, want)
		}, fmt.Sprintf("route of %s with %d queues on %s", topic, queues, ns))
	}
}

// newProducer starts a producer with its own client instance (instance names keep clients of
// different cases apart).
func newProducer(t *testing.T, nameServers []string, name string) rocketmq.Producer {
	t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNameServer(nameServers),
		producer.WithGroupName("pg-"+name),
		producer.WithInstanceName("p-"+name),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatalf("NewProducer %s: %v", name, err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("producer %s Start: %v", name, err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// consumerOpts describe one push consumer.
type consumerOpts struct {
	group, instance, topic string
	selector               consumer.MessageSelector
	handle                 func(*primitive.MessageExt) consumer.ConsumeResult // default: record and succeed
	sink                   *sink
}

// startConsumer starts a clustering push consumer from the first offset.
func startConsumer(t *testing.T, nameServers []string, o consumerOpts) rocketmq.PushConsumer {
	t.Helper()
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer(nameServers),
		consumer.WithGroupName(o.group),
		consumer.WithInstance(o.instance),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatalf("NewPushConsumer %s: %v", o.group, err)
	}
	if o.selector.Expression == "" {
		o.selector = consumer.MessageSelector{Type: consumer.TAG, Expression: "*"}
	}
	err = c.Subscribe(o.topic, o.selector, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		res := consumer.ConsumeSuccess
		for _, m := range msgs {
			if o.handle != nil {
				if r := o.handle(m); r != consumer.ConsumeSuccess {
					res = r
				}
				continue
			}
			o.sink.add(m)
		}
		return res, nil
	})
	if err != nil {
		t.Fatalf("Subscribe %s: %v", o.topic, err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("consumer %s Start: %v", o.group, err)
	}
	t.Cleanup(func() { _ = stopPushConsumer(c) })
	return c
}

// stopPushConsumer shuts an official push consumer down without tripping v2.1.2's shutdown race:
// Shutdown closes each process queue's message channel while a pull answered FOUND may still be
// about to send to it (processQueue.putMessage selects between the closed done channel and the
// closed message channel, and panics with "send on closed channel" when it picks the second;
// CI hit it once on 2026-12-03). Suspending first stops new pulls, and the pause lets answers
// already on the way land in the still-open channel.
func stopPushConsumer(c rocketmq.PushConsumer) error {
	c.Suspend()
	time.Sleep(300 * time.Millisecond)
	return c.Shutdown()
}

// delivery is one message as a consumer saw it.
type delivery struct {
	msgID, body, tags, keys, topic string
	queueID                        int
	reconsumeTimes                 int32
	at                             time.Time
}

// sink records deliveries. It is safe for concurrent use.
type sink struct {
	mu   sync.Mutex
	byID map[string][]delivery
	all  []delivery
}

func newSink() *sink { return &sink{byID: map[string][]delivery{}} }

func (s *sink) add(m *primitive.MessageExt) {
	d := delivery{msgID: m.MsgId, body: string(m.Body), tags: m.GetTags(), keys: m.GetKeys(), topic: m.Topic,
		reconsumeTimes: m.ReconsumeTimes, at: time.Now()}
	if m.Queue != nil {
		d.queueID = m.Queue.QueueId
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[m.MsgId] = append(s.byID[m.MsgId], d)
	s.all = append(s.all, d)
}

// distinct is the number of distinct message ids received.
func (s *sink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// snapshot returns every delivery so far.
func (s *sink) snapshot() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery(nil), s.all...)
}

// bodies returns the distinct bodies received, sorted.
func (s *sink) bodies() []string {
	seen := map[string]bool{}
	for _, d := range s.snapshot() {
		seen[d.body] = true
	}
	out := make([]string, 0, len(seen))
	for b := range seen {
		out = append(out, b)
	}
	sort.Strings(out)
	return out
}

// waitBodies waits until every body in want has been received.
func (s *sink) waitBodies(t *testing.T, want []string, timeout time.Duration, what string) {
	t.Helper()
	if !testutil.Poll(timeout, func() bool { return s.hasAll(want) }) {
		t.Fatalf("%s: %d of %d messages received after %v; first missing: %v", what, len(want)-len(s.missing(want)), len(want), timeout, first(s.missing(want), 5))
	}
}

func (s *sink) hasAll(want []string) bool { return len(s.missing(want)) == 0 }

func (s *sink) missing(want []string) []string {
	got := map[string]bool{}
	for _, d := range s.snapshot() {
		got[d.body] = true
	}
	var miss []string
	for _, w := range want {
		if !got[w] {
			miss = append(miss, w)
		}
	}
	return miss
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
