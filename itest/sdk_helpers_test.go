package itest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
	"github.com/skiffmq/skiff/internal/testutil"
)

// sdkDelayLevels makes retries and delay levels fast enough for tests: level 1 is 1 s, 2 is 2 s,
// 3 (the first retry) 1 s, 4 (the second) 2 s, ...
const sdkDelayLevels = `"1s 2s 1s 2s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s"`

// sdkCluster starts one name server and one broker with fast delay levels.
func sdkCluster(t *testing.T, extra map[string]string) *testutil.Cluster {
	t.Helper()
	needProcesses(t)
	e := map[string]string{"messageDelayLevel": sdkDelayLevels}
	bo := testutil.BrokerOptions{}
	for k, v := range extra {
		if k == "autoCreateTopicEnable" {
			bo.AutoCreateTopicDisabled = v == "false"
			continue
		}
		e[k] = v
	}
	bo.Extra = e
	return testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, Broker: bo})
}

// testLogger sends SDK logs at info level and above to t.Log (visible when the test fails or
// with -v); lines logged after the test ended are dropped.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(testutil.NewLogHandler(t, slog.LevelInfo))
}

// createTopic creates topic with queues read/write queues on the cluster's broker.
func createTopic(t *testing.T, c *testutil.Cluster, topic string, queues int32) {
	t.Helper()
	a, err := admin.New(admin.WithNameServers(c.NamesrvList()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tc := admin.DefaultTopicConfig(topic)
	tc.ReadQueueNums, tc.WriteQueueNums = queues, queues
	if err := a.CreateTopic(context.Background(), c.Broker.Addr, tc); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := a.TopicRoute(context.Background(), topic); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("topic %s never got a route", topic)
}

func startProducer(t *testing.T, c *testutil.Cluster, opts ...producer.Option) *producer.Producer {
	t.Helper()
	opts = append([]producer.Option{producer.WithNameServers(c.NamesrvAddr), producer.WithLogger(testLogger(t))}, opts...)
	p, err := producer.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// fastConsumer are options that make a push consumer react quickly in tests.
func fastConsumer(c *testutil.Cluster) []consumer.Option {
	return []consumer.Option{consumer.WithNameServers(c.NamesrvAddr), consumer.WithRebalanceInterval(time.Second),
		consumer.WithCommitInterval(200 * time.Millisecond), consumer.WithPullTimeout(2 * time.Second),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset)}
}

func startPush(t *testing.T, group, topic, expr string, h consumer.Handler, opts ...consumer.Option) *consumer.PushConsumer {
	t.Helper()
	opts = append([]consumer.Option{consumer.WithLogger(testLogger(t))}, opts...)
	pc, err := consumer.NewPushConsumer(group, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, expr, h); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Shutdown(context.Background()) })
	return pc
}

// collector records delivered messages by body.
type collector struct {
	mu    sync.Mutex
	msgs  []*client.MessageExt
	count map[string]int
	by    map[string]string   // body -> consumer (the last one)
	who   map[string][]string // body -> every consumer it was delivered to, in order
}

func newCollector() *collector {
	return &collector{count: map[string]int{}, by: map[string]string{}, who: map[string][]string{}}
}

func (c *collector) handler(name string) consumer.Handler {
	return func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, m := range msgs {
			c.msgs = append(c.msgs, m)
			c.count[string(m.Body)]++
			c.by[string(m.Body)] = name
			c.who[string(m.Body)] = append(c.who[string(m.Body)], name)
		}
		return consumer.ConsumeSuccess
	}
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.count)
}

// waitFor is testutil.WaitFor with the description first (it reads better before a closure).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, timeout, cond, what)
}

func body(prefix string, i int) []byte { return []byte(fmt.Sprintf("%s-%05d", prefix, i)) }

// waitCommittedToEnd waits until group has committed every queue of topic on the cluster's
// broker up to the queue's end (queues: how many the topic has). After that nothing already
// stored can still be delivered to the group: a queue is consumed in offset order and every
// pulled message is consumed before its offset is committed. It replaces grace sleeps before
// "nothing more arrives" checks.
func waitCommittedToEnd(t *testing.T, c *testutil.Cluster, group, topic string, queues int) {
	t.Helper()
	a, err := admin.New(admin.WithNameServers(c.NamesrvList()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, 30*time.Second, group+" to commit every queue of "+topic+" up to its end", func() bool {
		prog, err := a.ConsumerProgress(context.Background(), []string{c.Broker.Addr}, group, topic)
		if err != nil || len(prog) != queues {
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
