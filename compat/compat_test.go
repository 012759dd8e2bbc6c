package compat

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// Topics of the shared cluster, created with the official admin API before the cases run.
const (
	topicSync   = "CompatSync"
	topicTags   = "CompatTags"
	topicRetry  = "CompatRetry"
	topicAsync  = "CompatAsync"
	topicSplit  = "CompatSplit"
	topicBatch  = "CompatBatch"
	topicResume = "CompatResume"
	syncCount   = 2000
	syncWorkers = 8
)

// TestCompat runs the cases that share one name server and one broker, in parallel.
func TestCompat(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := startCluster(t, 1)
	for _, tq := range []struct {
		topic  string
		queues int
	}{{topicSync, 8}, {topicTags, 4}, {topicRetry, 2}, {topicAsync, 4}, {topicSplit, 8}, {topicBatch, 4}, {topicResume, 4}} {
		createTopic(t, c, tq.topic, tq.queues)
	}
	ns := c.NamesrvList()
	t.Run("group", func(t *testing.T) {
		t.Run("SendSyncConsumeAll", func(t *testing.T) { t.Parallel(); testSendSyncConsumeAll(t, ns) })
		t.Run("TagFilter", func(t *testing.T) { t.Parallel(); testTagFilter(t, ns) })
		t.Run("RetryLater", func(t *testing.T) { t.Parallel(); testRetryLater(t, ns) })
		t.Run("AsyncAndOneWay", func(t *testing.T) { t.Parallel(); testAsyncAndOneWay(t, ns) })
		t.Run("TwoConsumersSplitQueues", func(t *testing.T) { t.Parallel(); testSplit(t, ns) })
		t.Run("BatchSend", func(t *testing.T) { t.Parallel(); testBatch(t, ns) })
		t.Run("ResumeFromCommittedOffset", func(t *testing.T) { t.Parallel(); testResume(t, ns, c.Broker.Addr) })
	})
	if !t.Failed() {
		c.Broker.StopOK()
		c.NameServers[0].StopOK()
	}
}

var tagsCycle = []string{"TagA", "TagB", "TagC"}

// testSendSyncConsumeAll sends 2,000 messages with keys and tags from several goroutines, then
// consumes them with one clustering push consumer: every message once, contents intact.
func testSendSyncConsumeAll(t *testing.T, ns []string) {
	p := newProducer(t, ns, "sync")
	type sent struct{ body, tags, key string }
	var mu sync.Mutex
	byID := map[string]sent{}
	send := func(i int) error {
		s := sent{body: fmt.Sprintf("sync-%04d", i), tags: tagsCycle[i%3], key: fmt.Sprintf("key-%04d", i)}
		msg := primitive.NewMessage(topicSync, []byte(s.body))
		msg.WithTag(s.tags)
		msg.WithKeys([]string{s.key})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := p.SendSync(ctx, msg)
		cancel()
		if err != nil {
			return fmt.Errorf("SendSync %s: %w", s.body, err)
		}
		if res.Status != primitive.SendOK || res.MsgID == "" || res.OffsetMsgID == "" || res.MessageQueue == nil || res.MessageQueue.Topic != topicSync {
			return fmt.Errorf("SendSync %s: result %+v", s.body, res)
		}
		mu.Lock()
		defer mu.Unlock()
		if _, dup := byID[res.MsgID]; dup {
			return fmt.Errorf("SendSync %s: MsgID %s returned twice", s.body, res.MsgID)
		}
		byID[res.MsgID] = s
		return nil
	}
	// The first send goes alone: rocketmq-client-go v2.1.2 publishes a new topic's queues
	// (producer.UpdateTopicPublishInfo) before it records the brokers' addresses
	// (internal/route.go, UpdateTopicRouteInfoWithDefault), so a second goroutine's first send
	// to the topic can pick a queue whose broker it cannot resolve yet and fail at once with
	// "topic=CompatSync route info not found" (seen in CI on 2026-12-04). A client race, not
	// the broker's; every send after the first finds both.
	if err := send(0); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, syncWorkers)
	var wg sync.WaitGroup
	for w := range syncWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < syncCount; i += syncWorkers {
				if i == 0 {
					continue // sent above
				}
				if err := send(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(byID) != syncCount {
		t.Fatalf("%d distinct MsgIDs for %d sends", len(byID), syncCount)
	}

	s := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-sync", instance: "c-sync", topic: topicSync, sink: s})
	if !pollDistinct(s, syncCount, 90*time.Second) {
		t.Fatalf("received %d of %d distinct messages", s.distinct(), syncCount)
	}
	queues := map[int]bool{}
	for id, ds := range snapshotByID(s) {
		want, ok := byID[id]
		if !ok {
			t.Fatalf("received MsgId %s that was never sent (body %q)", id, ds[0].body)
		}
		if len(ds) != 1 {
			t.Errorf("MsgId %s (%s) delivered %d times", id, want.body, len(ds))
		}
		d := ds[0]
		if d.body != want.body || d.tags != want.tags || d.keys != want.key || d.topic != topicSync {
			t.Fatalf("MsgId %s: got body %q tags %q keys %q topic %q, want %+v", id, d.body, d.tags, d.keys, d.topic, want)
		}
		queues[d.queueID] = true
	}
	if len(queues) != 8 {
		t.Errorf("messages came from %d queues, want all 8", len(queues))
	}
}

func pollDistinct(s *sink, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for s.distinct() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func snapshotByID(s *sink) map[string][]delivery {
	out := map[string][]delivery{}
	for _, d := range s.snapshot() {
		out[d.msgID] = append(out[d.msgID], d)
	}
	return out
}

// testTagFilter subscribes with "TagA || TagB" and must see exactly the TagA and TagB messages.
// The last message of every queue is a TagA or TagB message, so once all of those arrived the
// consumer has read past every TagC message.
func testTagFilter(t *testing.T, ns []string) {
	p := newProducer(t, ns, "tags")
	lastTag := map[int]string{}
	var wantAB []string
	send := func(i int, tag string) {
		body := fmt.Sprintf("tags-%03d-%s", i, tag)
		msg := primitive.NewMessage(topicTags, []byte(body))
		msg.WithTag(tag)
		res, err := p.SendSync(context.Background(), msg)
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("SendSync %s: %v %+v", body, err, res)
		}
		lastTag[res.MessageQueue.QueueId] = tag
		if tag != "TagC" {
			wantAB = append(wantAB, body)
		}
	}
	for i := range 60 {
		send(i, tagsCycle[i%3])
	}
	for i := 60; ; i++ {
		done := len(lastTag) == 4
		for _, tag := range lastTag {
			done = done && tag != "TagC"
		}
		if done {
			break
		}
		if i > 200 {
			t.Fatalf("could not end every queue with TagA: %v", lastTag)
		}
		send(i, "TagA")
	}
	s := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-tags", instance: "c-tags", topic: topicTags, sink: s,
		selector: consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA || TagB"}})
	s.waitBodies(t, wantAB, 60*time.Second, "TagA || TagB")
	for _, d := range s.snapshot() {
		if d.tags != "TagA" && d.tags != "TagB" {
			t.Fatalf("received %q with tag %q through TagA || TagB", d.body, d.tags)
		}
	}
	if got := s.bodies(); len(got) != len(wantAB) {
		t.Fatalf("received %d distinct messages, want %d", len(got), len(wantAB))
	}
}

// testRetryLater returns ConsumeRetryLater for the first delivery of each message; each must come
// back once, through %RETRY%<group> after delay level 3 (10 s), with ReconsumeTimes 1, the same
// MsgId and body, and the original topic restored.
func testRetryLater(t *testing.T, ns []string) {
	const n = 5
	p := newProducer(t, ns, "retry")
	var want []string
	for i := range n {
		body := fmt.Sprintf("retry-%d", i)
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topicRetry, []byte(body)))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("SendSync %s: %v %+v", body, err, res)
		}
		want = append(want, body)
	}
	s := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-retry", instance: "c-retry", topic: topicRetry, sink: s,
		handle: func(m *primitive.MessageExt) consumer.ConsumeResult {
			s.add(m)
			if m.ReconsumeTimes == 0 {
				return consumer.ConsumeRetryLater
			}
			return consumer.ConsumeSuccess
		}})
	ok := testutil.Poll(120*time.Second, func() bool {
		for _, ds := range snapshotByID(s) {
			if len(ds) < 2 {
				return false
			}
		}
		return s.distinct() == n
	})
	if !ok {
		t.Fatalf("not every message came back after ConsumeRetryLater: %v", summarize(s))
	}
	for id, ds := range snapshotByID(s) {
		if len(ds) != 2 {
			t.Errorf("MsgId %s delivered %d times, want 2: %v", id, len(ds), ds)
			continue
		}
		first, again := ds[0], ds[1]
		if first.reconsumeTimes != 0 || again.reconsumeTimes != 1 {
			t.Errorf("MsgId %s: ReconsumeTimes %d then %d, want 0 then 1", id, first.reconsumeTimes, again.reconsumeTimes)
		}
		if again.topic != topicRetry || again.body != first.body {
			t.Errorf("MsgId %s: redelivered with topic %q body %q, want %q %q", id, again.topic, again.body, topicRetry, first.body)
		}
		if gap := again.at.Sub(first.at); gap < 9*time.Second {
			t.Errorf("MsgId %s came back after %v; delay level 3 is 10 s", id, gap)
		}
	}
	if got := s.bodies(); len(got) != n {
		t.Errorf("bodies %v, want %v", got, want)
	}
}

func summarize(s *sink) map[string]int {
	out := map[string]int{}
	for _, d := range s.snapshot() {
		out[d.body]++
	}
	return out
}

// testAsyncAndOneWay sends with SendAsync and SendOneWay and receives every message.
func testAsyncAndOneWay(t *testing.T, ns []string) {
	const n = 100
	p := newProducer(t, ns, "async")
	var want []string
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		body := fmt.Sprintf("async-%03d", i)
		want = append(want, body)
		wg.Add(1)
		err := p.SendAsync(context.Background(), func(_ context.Context, res *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil {
				errs <- fmt.Errorf("SendAsync %s callback: %w", body, err)
			} else if res.Status != primitive.SendOK || res.MsgID == "" {
				errs <- fmt.Errorf("SendAsync %s: result %+v", body, res)
			}
		}, primitive.NewMessage(topicAsync, []byte(body)))
		if err != nil {
			wg.Done()
			t.Fatalf("SendAsync %s: %v", body, err)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("SendAsync callbacks did not all run within 30 s")
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range n {
		body := fmt.Sprintf("oneway-%03d", i)
		want = append(want, body)
		if err := p.SendOneWay(context.Background(), primitive.NewMessage(topicAsync, []byte(body))); err != nil {
			t.Fatalf("SendOneWay %s: %v", body, err)
		}
	}
	s := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-async", instance: "c-async", topic: topicAsync, sink: s})
	s.waitBodies(t, want, 60*time.Second, "async and oneway")
	if got := len(s.bodies()); got != len(want) {
		t.Fatalf("received %d distinct bodies, want %d", got, len(want))
	}
}

// testBatch sends batches of 10 messages with one SendSync call each and receives them all.
func testBatch(t *testing.T, ns []string) {
	p := newProducer(t, ns, "batch")
	var want []string
	wantTag := map[string]string{}
	for b := range 5 {
		var msgs []*primitive.Message
		for i := range 10 {
			body := fmt.Sprintf("batch-%d-%02d", b, i)
			m := primitive.NewMessage(topicBatch, []byte(body))
			m.WithTag(tagsCycle[i%2])
			m.WithKeys([]string{body})
			msgs = append(msgs, m)
			want = append(want, body)
			wantTag[body] = tagsCycle[i%2]
		}
		res, err := p.SendSync(context.Background(), msgs...)
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("batch %d: %v %+v", b, err, res)
		}
	}
	s := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-batch", instance: "c-batch", topic: topicBatch, sink: s})
	s.waitBodies(t, want, 60*time.Second, "batch")
	for _, d := range s.snapshot() {
		if d.tags != wantTag[d.body] || d.keys != d.body {
			t.Fatalf("%s: tags %q keys %q, want %q %q", d.body, d.tags, d.keys, wantTag[d.body], d.body)
		}
	}
	if got := len(s.bodies()); got != len(want) {
		t.Fatalf("received %d distinct bodies, want %d", got, len(want))
	}
}

// testSplit runs two consumers of one group (different instance names): once both receive
// messages, the queues are split between them: every later message arrives, and no queue
// delivers to both.
func testSplit(t *testing.T, ns []string) {
	p := newProducer(t, ns, "split")
	s1, s2 := newSink(), newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-split", instance: "c-split-1", topic: topicSplit, sink: s1})
	startConsumer(t, ns, consumerOpts{group: "cg-split", instance: "c-split-2", topic: topicSplit, sink: s2})
	send := func(prefix string, count int) []string {
		var bodies []string
		for i := range count {
			body := fmt.Sprintf("%s-%03d", prefix, i)
			res, err := p.SendSync(context.Background(), primitive.NewMessage(topicSplit, []byte(body)))
			if err != nil || res.Status != primitive.SendOK {
				t.Fatalf("SendSync %s: %v %+v", body, err, res)
			}
			bodies = append(bodies, body)
		}
		return bodies
	}
	// Warm up in rounds of 8 (one message per queue) until a round is split between both
	// consumers with no queue on both: the rebalance has settled.
	settled := false
	for round := 0; round < 30 && !settled; round++ {
		bodies := send(fmt.Sprintf("warm%02d", round), 8)
		union := newUnion(s1, s2)
		if !testutil.Poll(30*time.Second, func() bool { return union().hasAll(bodies) }) {
			t.Fatalf("warm-up round %d not received by either consumer", round)
		}
		q1, q2 := queuesOf(s1, bodies), queuesOf(s2, bodies)
		settled = len(q1) > 0 && len(q2) > 0 && disjoint(q1, q2) && len(q1)+len(q2) == 8
		if !settled {
			time.Sleep(time.Second) // let the 20 s rebalance or NOTIFY_CONSUMER_IDS_CHANGED act
		}
	}
	if !settled {
		t.Fatal("the two consumers never split the queues between them")
	}
	bodies := send("main", 400)
	union := newUnion(s1, s2)
	if !testutil.Poll(60*time.Second, func() bool { return union().hasAll(bodies) }) {
		t.Fatalf("main messages: missing %v", first(union().missing(bodies), 5))
	}
	q1, q2 := queuesOf(s1, bodies), queuesOf(s2, bodies)
	if !disjoint(q1, q2) {
		t.Fatalf("queues owned by both consumers: %v and %v", q1, q2)
	}
	if len(q1) == 0 || len(q2) == 0 || len(q1)+len(q2) != 8 {
		t.Fatalf("queue split %v / %v, want 8 queues shared by both", q1, q2)
	}
	t.Logf("consumer 1 owns queues %v, consumer 2 owns %v", keys(q1), keys(q2))
}

// newUnion returns a function that merges the sinks' deliveries into one sink.
func newUnion(sinks ...*sink) func() *sink {
	return func() *sink {
		u := newSink()
		for _, s := range sinks {
			for _, d := range s.snapshot() {
				u.all = append(u.all, d)
			}
		}
		return u
	}
}

// queuesOf returns the queue ids on which s received any of bodies.
func queuesOf(s *sink, bodies []string) map[int]bool {
	want := map[string]bool{}
	for _, b := range bodies {
		want[b] = true
	}
	q := map[int]bool{}
	for _, d := range s.snapshot() {
		if want[d.body] {
			q[d.queueID] = true
		}
	}
	return q
}

func disjoint(a, b map[int]bool) bool {
	for k := range a {
		if b[k] {
			return false
		}
	}
	return true
}

func keys(m map[int]bool) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// committedOffsets asks the broker for the group's stored offset of every queue of topic
// (QUERY_CONSUMER_OFFSET, 14) and returns their sum; -1 when a queue has none yet.
func committedOffsets(brokerAddr, group, topic string, queues int) int64 {
	var sum int64
	for q := range queues {
		req := remoting.NewRequest(remoting.QueryConsumerOffset,
			map[string]string{"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(q)}, nil)
		resp, err := testutil.Call(brokerAddr, req, 3*time.Second)
		if err != nil || resp.Code != remoting.Success {
			return -1
		}
		off, err := resp.ExtInt64("offset")
		if err != nil {
			return -1
		}
		sum += off
	}
	return sum
}

// testResume consumes 50 messages, waits until the client has committed their offsets to the
// broker (UPDATE_CONSUMER_OFFSET every 5 s), shuts the consumer down, sends 30 more and starts a
// new consumer of the same group: it receives exactly the 30 new messages.
func testResume(t *testing.T, ns []string, brokerAddr string) {
	const group = "cg-resume"
	p := newProducer(t, ns, "resume")
	send := func(prefix string, n int) []string {
		var bodies []string
		for i := range n {
			body := fmt.Sprintf("%s-%02d", prefix, i)
			res, err := p.SendSync(context.Background(), primitive.NewMessage(topicResume, []byte(body)))
			if err != nil || res.Status != primitive.SendOK {
				t.Fatalf("SendSync %s: %v %+v", body, err, res)
			}
			bodies = append(bodies, body)
		}
		return bodies
	}
	first := send("first", 50)
	s1 := newSink()
	c1 := startConsumer(t, ns, consumerOpts{group: group, instance: "c-resume-1", topic: topicResume, sink: s1})
	s1.waitBodies(t, first, 60*time.Second, "first consumer")
	testutil.WaitFor(t, 30*time.Second, func() bool { return committedOffsets(brokerAddr, group, topicResume, 4) == 50 },
		"the broker to store offsets summing to 50 for "+group)
	if err := stopPushConsumer(c1); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	second := send("second", 30)
	s2 := newSink()
	startConsumer(t, ns, consumerOpts{group: group, instance: "c-resume-2", topic: topicResume, sink: s2})
	s2.waitBodies(t, second, 60*time.Second, "second consumer")
	for _, d := range s2.snapshot() {
		if strings.HasPrefix(d.body, "first-") {
			t.Fatalf("the restarted group received %s again; its offsets were committed", d.body)
		}
	}
	testutil.WaitFor(t, 30*time.Second, func() bool { return committedOffsets(brokerAddr, group, topicResume, 4) == 80 },
		"the broker to store offsets summing to 80 for "+group)
}
