package compat

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	skiff "github.com/skiffmq/skiff/client"
	skconsumer "github.com/skiffmq/skiff/client/consumer"
	skproducer "github.com/skiffmq/skiff/client/producer"
	"github.com/skiffmq/skiff/internal/testutil"
)

// Cross-client tests: Skiff's own SDK (github.com/skiffmq/skiff/client/...) and the official
// rocketmq-client-go share one cluster. A message sent by one is consumed by the other with its
// body (compressed on the wire when large), tags, keys, user properties and ids intact, and a
// consumer group may mix consumers of both.

var crossTags = []string{"TagA", "TagB", "TagC"}

// crossNote is a user property value with spaces, '=', ':' and multi-byte characters.
func crossNote(i int) string { return fmt.Sprintf("a=b: héllo wörld ✓ 日本語 #%d", i) }

// crossKeys are the two keys of message i.
func crossKeys(i int) []string {
	return []string{fmt.Sprintf("key-%04d", i), fmt.Sprintf("grp-%d", i%7)}
}

// crossBig is a body larger than 4 KiB (both producers compress it), compressible but not
// trivially so.
func crossBig(prefix string) []byte {
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; b.Len() < 12<<10; i++ {
		fmt.Fprintf(&b, "|line %05d of a large body: %x", i, i*2654435761)
	}
	return []byte(b.String())
}

// crossMsg is one delivery, as either client saw it.
type crossMsg struct {
	topic, msgID, offsetMsgID string
	body                      string
	tags, keys                string // keys space separated, as on the wire
	props                     map[string]string
	sysFlag                   int32
	queueID                   int
	queueOffset               int64
}

// crossWant is what a delivery must look like. Empty ids and a negative queue are not checked.
type crossWant struct {
	body, tags, keys, idx, note string
	msgID, offsetMsgID          string
	queueID                     int
	queueOffset                 int64
	compressed                  bool
}

func fromOfficial(m *primitive.MessageExt) crossMsg {
	d := crossMsg{topic: m.Topic, msgID: m.MsgId, offsetMsgID: m.OffsetMsgId, body: string(m.Body), tags: m.GetTags(),
		keys: m.GetKeys(), props: m.GetProperties(), sysFlag: m.SysFlag, queueID: -1, queueOffset: m.QueueOffset}
	if m.Queue != nil {
		d.queueID = m.Queue.QueueId
	}
	return d
}

func fromSkiff(m *skiff.MessageExt) crossMsg {
	return crossMsg{topic: m.Topic, msgID: m.MsgID, offsetMsgID: m.OffsetMsgID, body: string(m.Body), tags: m.Tags,
		keys: strings.Join(m.Keys, " "), props: m.Properties(), sysFlag: m.SysFlag, queueID: int(m.QueueID),
		queueOffset: m.QueueOffset}
}

// crossSink records deliveries by body. It is safe for concurrent use.
type crossSink struct {
	mu     sync.Mutex
	byBody map[string][]crossMsg
}

func newCrossSink() *crossSink { return &crossSink{byBody: map[string][]crossMsg{}} }

func (s *crossSink) add(d crossMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byBody[d.body] = append(s.byBody[d.body], d)
}

func (s *crossSink) snapshot() map[string][]crossMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]crossMsg, len(s.byBody))
	for b, ds := range s.byBody {
		out[b] = slices.Clone(ds)
	}
	return out
}

// missingBodies returns the labels of the wanted bodies no sink has received.
func missingBodies(want map[string]*crossWant, sinks ...*crossSink) []string {
	got := map[string]bool{}
	for _, s := range sinks {
		s.mu.Lock()
		for b := range s.byBody {
			got[b] = true
		}
		s.mu.Unlock()
	}
	var miss []string
	for b := range want {
		if !got[b] {
			miss = append(miss, label(b))
		}
	}
	slices.Sort(miss)
	return miss
}

// label shortens a body for messages.
func label(body string) string {
	if len(body) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", body[:24], len(body))
	}
	return body
}

// waitAllOnce waits until the sinks together hold every wanted body, then for a grace period
// so that duplicates would show, and checks that each wanted body arrived exactly once and that
// nothing else arrived (bodies for which ignore is true excepted). It returns the deliveries by
// body.
func waitAllOnce(t *testing.T, want map[string]*crossWant, timeout time.Duration, ignore func(string) bool, sinks ...*crossSink) map[string]crossMsg {
	t.Helper()
	start := time.Now()
	if !testutil.Poll(timeout, func() bool { return len(missingBodies(want, sinks...)) == 0 }) {
		miss := missingBodies(want, sinks...)
		t.Fatalf("after %v, %d of %d messages were not received; first: %v", timeout, len(miss), len(want), first(miss, 5))
	}
	t.Logf("all %d messages received after %v", len(want), time.Since(start).Round(time.Millisecond))
	// A duplicate would come from a second owner of a queue or a redelivery, right behind the
	// first delivery: give it a moment (there is no event to poll for).
	time.Sleep(1500 * time.Millisecond)
	merged := map[string]crossMsg{}
	count := map[string]int{}
	for _, s := range sinks {
		for b, ds := range s.snapshot() {
			count[b] += len(ds)
			merged[b] = ds[0]
		}
	}
	for b, n := range count {
		if ignore != nil && ignore(b) {
			continue
		}
		if want[b] == nil {
			t.Errorf("received a message that was never sent: %q (%d times)", label(b), n)
		} else if n != 1 {
			t.Errorf("message %q delivered %d times, want exactly once", label(b), n)
		}
	}
	return merged
}

// checkDelivery compares one delivery with what was sent.
func checkDelivery(t *testing.T, topic string, w *crossWant, d crossMsg) {
	t.Helper()
	var bad []string
	if d.topic != topic {
		bad = append(bad, fmt.Sprintf("topic %q, want %q", d.topic, topic))
	}
	if d.tags != w.tags {
		bad = append(bad, fmt.Sprintf("tags %q, want %q", d.tags, w.tags))
	}
	if d.keys != w.keys {
		bad = append(bad, fmt.Sprintf("keys %q, want %q", d.keys, w.keys))
	}
	if d.props["idx"] != w.idx {
		bad = append(bad, fmt.Sprintf("property idx %q, want %q", d.props["idx"], w.idx))
	}
	if d.props["note"] != w.note {
		bad = append(bad, fmt.Sprintf("property note %q, want %q", d.props["note"], w.note))
	}
	if d.msgID == "" {
		bad = append(bad, "empty MsgId")
	} else if w.msgID != "" && d.msgID != w.msgID {
		bad = append(bad, fmt.Sprintf("MsgId %s, want the send result's %s", d.msgID, w.msgID))
	}
	if d.offsetMsgID == "" {
		bad = append(bad, "empty OffsetMsgId")
	} else if w.offsetMsgID != "" && d.offsetMsgID != w.offsetMsgID {
		bad = append(bad, fmt.Sprintf("OffsetMsgId %s, want the send result's %s", d.offsetMsgID, w.offsetMsgID))
	}
	if w.queueID >= 0 && (d.queueID != w.queueID || d.queueOffset != w.queueOffset) {
		bad = append(bad, fmt.Sprintf("queue %d offset %d, want the send result's queue %d offset %d", d.queueID, d.queueOffset, w.queueID, w.queueOffset))
	}
	if w.compressed && d.sysFlag&1 == 0 {
		bad = append(bad, fmt.Sprintf("sysFlag %#x lacks the compressed bit: the producer did not compress the body", d.sysFlag))
	}
	if len(bad) > 0 {
		t.Errorf("message %q: %s", label(w.body), strings.Join(bad, "; "))
	}
}

// crossLogger logs a Skiff client's records at info level and above to t.Log.
func crossLogger(t *testing.T) *slog.Logger {
	return slog.New(testutil.NewLogHandler(t, slog.LevelInfo))
}

// startSkiffProducer starts a producer of Skiff's SDK.
func startSkiffProducer(t *testing.T, c *testutil.Cluster, group string) *skproducer.Producer {
	t.Helper()
	p, err := skproducer.New(skproducer.WithNameServers(c.NamesrvAddr), skproducer.WithGroup(group),
		skproducer.WithLogger(crossLogger(t)))
	if err != nil {
		t.Fatalf("skiff producer.New: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("skiff producer Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return p
}

// startSkiffConsumer starts a clustering push consumer of Skiff's SDK from the first offset,
// tuned to react quickly; it records every delivery in s.
func startSkiffConsumer(t *testing.T, c *testutil.Cluster, group, topic string, s *crossSink) *skconsumer.PushConsumer {
	t.Helper()
	pc, err := skconsumer.NewPushConsumer(group, skconsumer.WithNameServers(c.NamesrvAddr),
		skconsumer.WithConsumeFrom(skconsumer.ConsumeFromFirstOffset), skconsumer.WithRebalanceInterval(time.Second),
		skconsumer.WithCommitInterval(200*time.Millisecond), skconsumer.WithPullTimeout(2*time.Second),
		skconsumer.WithLogger(crossLogger(t)))
	if err != nil {
		t.Fatalf("skiff consumer.NewPushConsumer: %v", err)
	}
	err = pc.Subscribe(topic, "*", func(_ context.Context, msgs []*skiff.MessageExt) skconsumer.ConsumeResult {
		for _, m := range msgs {
			s.add(fromSkiff(m))
		}
		return skconsumer.ConsumeSuccess
	})
	if err != nil {
		t.Fatalf("skiff Subscribe %s: %v", topic, err)
	}
	if err := pc.Start(); err != nil {
		t.Fatalf("skiff consumer Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pc.Shutdown(ctx)
	})
	return pc
}

// startOfficialConsumer starts an official clustering push consumer from the first offset,
// resolving name servers with the passthrough resolver; it records every delivery in s.
// instance must be unique in the process (the official client shares instances by name).
func startOfficialConsumer(t *testing.T, c *testutil.Cluster, group, instance, topic string, s *crossSink) {
	t.Helper()
	pc, err := consumer.NewPushConsumer(
		consumer.WithGroupName(group),
		consumer.WithNsResolver(primitive.NewPassthroughResolver(c.NamesrvList())),
		consumer.WithInstance(instance),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatalf("official NewPushConsumer %s: %v", group, err)
	}
	err = pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range msgs {
				s.add(fromOfficial(m))
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatalf("official Subscribe %s: %v", topic, err)
	}
	if err := pc.Start(); err != nil {
		t.Fatalf("official consumer %s Start: %v", group, err)
	}
	t.Cleanup(func() { _ = stopPushConsumer(pc) })
}

// startOfficialProducer starts an official producer with the passthrough resolver.
func startOfficialProducer(t *testing.T, c *testutil.Cluster, group, instance string) interface {
	SendSync(context.Context, ...*primitive.Message) (*primitive.SendResult, error)
	SendAsync(context.Context, func(context.Context, *primitive.SendResult, error), ...*primitive.Message) error
} {
	t.Helper()
	p, err := producer.NewDefaultProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver(c.NamesrvList())),
		producer.WithGroupName(group),
		producer.WithInstanceName(instance),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatalf("official NewDefaultProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("official producer Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// uniqueSuffix tells apart groups of different runs (each test has its own cluster anyway).
func uniqueSuffix() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

// TestCrossSkiffToOfficial: Skiff's SDK producer sends 300 messages (sync, async, one batch of
// 20, one 12 KiB body that it compresses) with tags, two keys and user properties; an official
// push consumer receives each exactly once with body, tags, keys and properties intact, the
// compressed body inflated, and the MsgId (UNIQ_KEY), OffsetMsgId, queue and queue offset the
// Skiff send result reported.
func TestCrossSkiffToOfficial(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	const (
		topic   = "CrossSkiffToOfficial"
		n       = 300
		batchAt = 280 // messages batchAt..n-1 go in one SendBatch
		bigAt   = 7
	)
	c := startCluster(t, 1)
	createTopic(t, c, topic, 4)
	p := startSkiffProducer(t, c, "pg-cross-s2o")

	want := map[string]*crossWant{}
	newMsg := func(i int) (*skiff.Message, *crossWant) {
		body := []byte(fmt.Sprintf("s2o-%04d", i))
		if i == bigAt {
			body = crossBig(string(body))
		}
		w := &crossWant{body: string(body), tags: crossTags[i%3], keys: strings.Join(crossKeys(i), " "),
			idx: strconv.Itoa(i), note: crossNote(i), queueID: -1, compressed: i == bigAt}
		m := skiff.NewMessage(topic, body).WithTags(w.tags).WithKeys(crossKeys(i)...).
			WithProperty("idx", w.idx).WithProperty("note", w.note)
		want[w.body] = w
		return m, w
	}
	fromResult := func(w *crossWant, r *skiff.SendResult) {
		w.msgID, w.offsetMsgID, w.queueID, w.queueOffset = r.MsgID, r.OffsetMsgID, int(r.Queue.QueueID), r.QueueOffset
	}
	checkResult := func(what string, r *skiff.SendResult) {
		if r.Status != skiff.SendOK || r.MsgID == "" || r.OffsetMsgID == "" || r.Queue.Topic != topic {
			t.Fatalf("%s: result %v", what, r)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type asyncRes struct {
		w   *crossWant
		r   *skiff.SendResult
		err error
	}
	asyncDone := make(chan asyncRes, n)
	async := 0
	for i := range batchAt {
		m, w := newMsg(i)
		if i%20 == 3 {
			async++
			if err := p.SendAsync(ctx, m, func(r *skiff.SendResult, err error) { asyncDone <- asyncRes{w, r, err} }); err != nil {
				t.Fatalf("SendAsync %d: %v", i, err)
			}
			continue
		}
		r, err := p.Send(ctx, m)
		if err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		checkResult(fmt.Sprintf("Send %d", i), r)
		fromResult(w, r)
	}
	for range async {
		select {
		case a := <-asyncDone:
			if a.err != nil {
				t.Fatalf("SendAsync %s: %v", a.w.body, a.err)
			}
			checkResult("SendAsync "+a.w.body, a.r)
			fromResult(a.w, a.r)
		case <-ctx.Done():
			t.Fatal("SendAsync callbacks did not all run within 60 s")
		}
	}
	var batch []*skiff.Message
	var batchWant []*crossWant
	for i := batchAt; i < n; i++ {
		m, w := newMsg(i)
		batch = append(batch, m)
		batchWant = append(batchWant, w)
	}
	r, err := p.SendBatch(ctx, batch...)
	if err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	checkResult("SendBatch", r)
	ids, offIDs := strings.Split(r.MsgID, ","), strings.Split(r.OffsetMsgID, ",")
	if len(ids) != len(batch) || len(offIDs) != len(batch) {
		t.Fatalf("SendBatch of %d messages: %d MsgIDs and %d OffsetMsgIDs in %v", len(batch), len(ids), len(offIDs), r)
	}
	for j, w := range batchWant {
		w.msgID, w.offsetMsgID = ids[j], offIDs[j]
		w.queueID, w.queueOffset = int(r.Queue.QueueID), r.QueueOffset+int64(j)
	}
	if len(want) != n {
		t.Fatalf("prepared %d messages, want %d", len(want), n)
	}

	s := newCrossSink()
	startOfficialConsumer(t, c, "cg-cross-s2o-"+uniqueSuffix(), "cross-s2o-consumer", topic, s)
	got := waitAllOnce(t, want, 60*time.Second, nil, s)
	queues := map[int]bool{}
	for b, w := range want {
		checkDelivery(t, topic, w, got[b])
		queues[got[b].queueID] = true
	}
	if len(queues) != 4 {
		t.Errorf("messages came from queues %v, want all 4", queues)
	}
	if big, ok := got[string(crossBig(fmt.Sprintf("s2o-%04d", bigAt)))]; !ok || len(big.body) < 12<<10 {
		t.Errorf("the large body did not arrive intact (%d bytes)", len(big.body))
	}
}

// TestCrossOfficialToSkiff: the official producer sends 200 messages (SendSync, one SendAsync,
// one batch of 10 in one SendSync, one 12 KiB body that it compresses) with tags, two keys and
// user properties; a Skiff push consumer receives each exactly once with body, Tags, Keys and
// properties intact, the compressed body inflated, and for single sends the MsgID (UNIQ_KEY),
// OffsetMsgID, queue and queue offset of the official send result.
func TestCrossOfficialToSkiff(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	const (
		topic   = "CrossOfficialToSkiff"
		n       = 200
		batchAt = 190 // messages batchAt..n-1 go in one SendSync
		bigAt   = 11
		asyncAt = 50
	)
	c := startCluster(t, 1)
	createTopic(t, c, topic, 4)
	p := startOfficialProducer(t, c, "pg-cross-o2s", "cross-o2s-producer")

	want := map[string]*crossWant{}
	newMsg := func(i int) (*primitive.Message, *crossWant) {
		body := []byte(fmt.Sprintf("o2s-%04d", i))
		if i == bigAt {
			body = crossBig(string(body))
		}
		w := &crossWant{body: string(body), tags: crossTags[i%3], keys: strings.Join(crossKeys(i), " "),
			idx: strconv.Itoa(i), note: crossNote(i), queueID: -1, compressed: i == bigAt}
		m := primitive.NewMessage(topic, body)
		m.WithTag(w.tags)
		m.WithKeys(crossKeys(i))
		m.WithProperty("idx", w.idx)
		m.WithProperty("note", w.note)
		want[w.body] = w
		return m, w
	}
	fromResult := func(w *crossWant, r *primitive.SendResult) {
		w.msgID, w.offsetMsgID, w.queueID, w.queueOffset = r.MsgID, r.OffsetMsgID, r.MessageQueue.QueueId, r.QueueOffset
	}
	checkResult := func(what string, r *primitive.SendResult) {
		if r == nil || r.Status != primitive.SendOK || r.OffsetMsgID == "" || r.MessageQueue == nil || r.MessageQueue.Topic != topic {
			t.Fatalf("%s: result %v", what, r)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range batchAt {
		m, w := newMsg(i)
		if i == asyncAt {
			type asyncRes struct {
				r   *primitive.SendResult
				err error
			}
			done := make(chan asyncRes, 2) // the client may call back twice on a transport error
			err := p.SendAsync(ctx, func(_ context.Context, r *primitive.SendResult, err error) { done <- asyncRes{r, err} }, m)
			if err != nil {
				t.Fatalf("SendAsync %d: %v", i, err)
			}
			select {
			case a := <-done:
				if a.err != nil {
					t.Fatalf("SendAsync %d callback: %v", i, a.err)
				}
				checkResult("SendAsync", a.r)
				if a.r.MsgID == "" {
					t.Fatalf("SendAsync %d: empty MsgID in %v", i, a.r)
				}
				fromResult(w, a.r)
			case <-ctx.Done():
				t.Fatal("the SendAsync callback did not run within 60 s")
			}
			continue
		}
		r, err := p.SendSync(ctx, m)
		if err != nil {
			t.Fatalf("SendSync %d: %v", i, err)
		}
		checkResult(fmt.Sprintf("SendSync %d", i), r)
		if r.MsgID == "" {
			t.Fatalf("SendSync %d: empty MsgID in %v", i, r)
		}
		fromResult(w, r)
	}
	var batch []*primitive.Message
	var batchWant []*crossWant
	for i := batchAt; i < n; i++ {
		m, w := newMsg(i)
		batch = append(batch, m)
		batchWant = append(batchWant, w)
	}
	r, err := p.SendSync(ctx, batch...)
	if err != nil {
		t.Fatalf("batch SendSync: %v", err)
	}
	checkResult("batch SendSync", r)
	// The official client sets no UNIQ_KEY on batch members: their MsgId is the offset id.
	offIDs := strings.Split(r.OffsetMsgID, ",")
	if len(offIDs) != len(batch) {
		t.Fatalf("batch of %d messages: %d OffsetMsgIDs in %v", len(batch), len(offIDs), r)
	}
	for j, w := range batchWant {
		w.offsetMsgID = offIDs[j]
		w.queueID, w.queueOffset = r.MessageQueue.QueueId, r.QueueOffset+int64(j)
	}
	if len(want) != n {
		t.Fatalf("prepared %d messages, want %d", len(want), n)
	}

	s := newCrossSink()
	startSkiffConsumer(t, c, "cg-cross-o2s-"+uniqueSuffix(), topic, s)
	got := waitAllOnce(t, want, 60*time.Second, nil, s)
	queues := map[int]bool{}
	for b, w := range want {
		checkDelivery(t, topic, w, got[b])
		queues[got[b].queueID] = true
	}
	for _, w := range batchWant {
		if d := got[w.body]; d.msgID != w.offsetMsgID {
			t.Errorf("batch member %q: MsgID %s, want its offset id %s (the official client sets no UNIQ_KEY on batch members)", w.body, d.msgID, w.offsetMsgID)
		}
	}
	if len(queues) != 4 {
		t.Errorf("messages came from queues %v, want all 4", queues)
	}
}

// TestCrossGroupShared: an official and a Skiff push consumer in one consumer group on a topic
// with 4 queues split the queues between them (both allocate averagely over the sorted consumer
// ids). Once a warm-up round shows the split settled, 200 messages (half from each client's
// producer) are consumed exactly once by the two together, each consumer gets some, and no
// queue delivers to both.
func TestCrossGroupShared(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	const (
		topic  = "CrossGroupShared"
		queues = 4
		n      = 200
	)
	c := startCluster(t, 1)
	createTopic(t, c, topic, queues)
	group := "cg-cross-shared-" + uniqueSuffix()
	sp := startSkiffProducer(t, c, "pg-cross-shared")
	op := startOfficialProducer(t, c, "pg-cross-shared-official", "cross-shared-producer")

	so, ss := newCrossSink(), newCrossSink()
	startOfficialConsumer(t, c, group, "cross-shared-consumer", topic, so)
	skc := startSkiffConsumer(t, c, group, topic, ss)

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	send := func(prefix string, count int) map[string]*crossWant {
		w := map[string]*crossWant{}
		for i := range count {
			body := fmt.Sprintf("%s-%03d", prefix, i)
			w[body] = &crossWant{body: body, tags: crossTags[i%3], keys: strings.Join(crossKeys(i), " "),
				idx: strconv.Itoa(i), note: crossNote(i), queueID: -1}
			if i%2 == 0 {
				m := skiff.NewMessage(topic, []byte(body)).WithTags(crossTags[i%3]).WithKeys(crossKeys(i)...).
					WithProperty("idx", strconv.Itoa(i)).WithProperty("note", crossNote(i))
				r, err := sp.Send(ctx, m)
				if err != nil {
					t.Fatalf("skiff Send %s: %v", body, err)
				}
				w[body].msgID, w[body].offsetMsgID = r.MsgID, r.OffsetMsgID
				w[body].queueID, w[body].queueOffset = int(r.Queue.QueueID), r.QueueOffset
				continue
			}
			m := primitive.NewMessage(topic, []byte(body))
			m.WithTag(crossTags[i%3])
			m.WithKeys(crossKeys(i))
			m.WithProperty("idx", strconv.Itoa(i))
			m.WithProperty("note", crossNote(i))
			r, err := op.SendSync(ctx, m)
			if err != nil || r.Status != primitive.SendOK {
				t.Fatalf("official SendSync %s: %v %v", body, r, err)
			}
			w[body].msgID, w[body].offsetMsgID = r.MsgID, r.OffsetMsgID
			w[body].queueID, w[body].queueOffset = r.MessageQueue.QueueId, r.QueueOffset
		}
		return w
	}
	queuesOf := func(s *crossSink, w map[string]*crossWant) map[int]bool {
		q := map[int]bool{}
		for b, ds := range s.snapshot() {
			if w[b] != nil {
				for _, d := range ds {
					q[d.queueID] = true
				}
			}
		}
		return q
	}
	// Warm up until a round of messages on every queue is split between both consumers with
	// no queue on both, and the Skiff consumer holds half the queues: the rebalance settled.
	settled := false
	start := time.Now()
	for round := 0; round < 40 && !settled && time.Since(start) < 60*time.Second; round++ {
		w := send(fmt.Sprintf("warm%02d", round), 2*queues)
		if !testutil.Poll(30*time.Second, func() bool { return len(missingBodies(w, so, ss)) == 0 }) {
			t.Fatalf("warm-up round %d not received by either consumer: missing %v", round, missingBodies(w, so, ss))
		}
		qo, qs := queuesOf(so, w), queuesOf(ss, w)
		mine := 0
		for _, mq := range skc.Assigned() {
			if mq.Topic == topic {
				mine++
			}
		}
		settled = len(qo) > 0 && len(qs) > 0 && disjoint(qo, qs) && len(qo)+len(qs) == queues && mine == queues/2
		if !settled {
			t.Logf("warm-up round %d: official on queues %v, skiff on %v (assigned %d)", round, keys(qo), keys(qs), mine)
			time.Sleep(500 * time.Millisecond) // NOTIFY_CONSUMER_IDS_CHANGED or the 20 s rebalance acts
		}
	}
	if !settled {
		t.Fatalf("the official and the Skiff consumer never split the queues between them within %v", time.Since(start).Round(time.Second))
	}
	t.Logf("rebalance settled after %v", time.Since(start).Round(time.Millisecond))

	want := send("main", n)
	warm := func(b string) bool { return strings.HasPrefix(b, "warm") }
	got := waitAllOnce(t, want, 60*time.Second, warm, so, ss)
	for b, w := range want {
		checkDelivery(t, topic, w, got[b])
	}
	qo, qs := queuesOf(so, want), queuesOf(ss, want)
	count := func(s *crossSink) int {
		k := 0
		for b := range s.snapshot() {
			if want[b] != nil {
				k++
			}
		}
		return k
	}
	no, ns := count(so), count(ss)
	if no == 0 || ns == 0 {
		t.Errorf("the official consumer got %d messages and the Skiff consumer %d; both should get some", no, ns)
	}
	if !disjoint(qo, qs) || len(qo)+len(qs) != queues {
		t.Errorf("queue split: official %v, skiff %v; want %d queues, none on both", keys(qo), keys(qs), queues)
	}
	t.Logf("official consumer: %d messages from queues %v; skiff consumer: %d from queues %v", no, keys(qo), ns, keys(qs))
}
