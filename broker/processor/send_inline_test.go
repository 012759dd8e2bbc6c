package processor

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/commitlog/vfs"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// pipelineSend is one send of TestSendPipelinedFramesKeepTheirOwnData and what it must become.
type pipelineSend struct {
	req     *remoting.Command
	topic   string
	queue   int32
	group   string
	props   map[string]string // the producer's properties
	bodies  [][]byte          // one, or a batch's entries
	born    int64
	flag    int32
	delayed bool // DELAY=2: parked in SCHEDULE_TOPIC_XXXX queue 1
	half    bool // TRAN_MSG=true: parked in the half topic, answered with its UNIQ_KEY
}

// pipelineRequests builds n sends with distinct topics, queues, groups, bodies and properties,
// in both header serializations (JSON ones carry \u0001/\u0002 escapes, unescaped in place in the
// frame), some delayed, some half messages and some batches.
func pipelineRequests(n int) []*pipelineSend {
	out := make([]*pipelineSend, n)
	for i := range n {
		s := &pipelineSend{topic: fmt.Sprintf("Topic-%d", i%7), queue: int32(i % 4), group: fmt.Sprintf("pg-%d", i%5),
			born: int64(1000 + i), flag: int32(i % 7)}
		s.props = map[string]string{message.PropertyKeys: fmt.Sprintf("k%d", i), "idx": strconv.Itoa(i),
			message.PropertyUniqKey: fmt.Sprintf("UNIQ%08d%s", i, strings.Repeat("x", i%13))}
		batch := i%25 == 11
		switch {
		case batch:
		case i%10 == 3:
			s.delayed = true
			s.props[message.PropertyDelayLevel] = "2"
		case i%10 == 7:
			s.half = true
			s.props[message.PropertyTransactionPrepared] = "true"
		}
		h := protocol.SendMessageRequestHeader{ProducerGroup: s.group, Topic: s.topic, DefaultTopic: metadata.TopicDefault,
			DefaultTopicQueueNums: 4, QueueID: s.queue, BornTimestamp: s.born, Flag: s.flag, Batch: batch}
		if s.half {
			h.SysFlag = message.TransactionPrepared
		}
		body := func(j int) []byte {
			return bytes.Repeat([]byte(fmt.Sprintf("<%d.%d>", i, j)), 1+(i*37+j)%300)
		}
		var req *remoting.Command
		if batch {
			var entries []message.BatchEntry
			for j := range 3 {
				s.bodies = append(s.bodies, body(j))
				entries = append(entries, message.BatchEntry{Body: s.bodies[j], Properties: map[string]string{"entry": strconv.Itoa(j)}})
			}
			req = remoting.NewRequestList(remoting.SendBatchMessage, message.EncodeBatch(entries))
		} else {
			s.bodies = [][]byte{body(0)}
			h.Properties = message.FormatProperties(s.props)
			req = remoting.NewRequestList(remoting.SendMessageV2, s.bodies[0])
		}
		req.SetRawExt(h.AppendShort(nil))
		if i%3 == 1 {
			req.SerializeType = remoting.SerializeRocketMQ
		}
		s.req = req
		out[i] = s
	}
	return out
}

// TestSendPipelinedFramesKeepTheirOwnData: hundreds of sends written to one connection in one
// write (so many frames share gnet's read buffer, and the next read overwrites it) are each
// stored and answered with their own data: every stored record (topic, queue, body, every
// property, born timestamp, flag, the parked topics' REAL_TOPIC/REAL_QID), every answer field
// (opaque, code, msgId, queueId, queueOffset, MSG_REGION, TRACE_ON, a half message's
// transactionId), the queue offsets (0..n-1 per queue: the store keys them on the message's topic
// name), and what the Observe and Produced hooks saw. It runs inline on the event loop (requests
// lent from the read buffer) and on the pool, under ASYNC_FLUSH and under SYNC_FLUSH with the
// msync held until every send is owed, so that each deferred answer is built after the buffer its
// request came in has been reused and after hundreds of later sends took sendOps from the pool
// (an op put back before its deferred answer was encoded answers with another send's fields).
func TestSendPipelinedFramesKeepTheirOwnData(t *testing.T) {
	for _, inline := range []bool{true, false} {
		for _, flush := range []string{commitlog.AsyncFlush, commitlog.SyncFlush} {
			t.Run(fmt.Sprintf("inline=%v/%s", inline, flush), func(t *testing.T) {
				testPipelinedSends(t, inline, flush)
			})
		}
	}
}

func testPipelinedSends(t *testing.T, inline bool, flush string) {
	const n = 600
	gate := make(chan struct{})
	var gated atomic.Bool
	gated.Store(flush == commitlog.SyncFlush)
	cfg := commitlog.DefaultConfig(t.TempDir())
	cfg.FlushDiskType = flush
	cfg.MappedFileSizeCommitLog = 8 << 20
	cfg.MappedFileSizeConsumeQueue = 6000
	cfg.WarmMappedFile = false
	cfg.SyncFlushTimeout = time.Minute
	cfg.FS = vfs.NewErrorFS(vfs.Default, func(op vfs.Op, path string) error {
		if op == vfs.OpMsync && strings.Contains(path, "commitlog") && gated.Load() {
			<-gate
		}
		return nil
	})
	st, err := commitlog.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	topics := &fakeTopics{m: map[string]metadata.TopicConfig{}}
	for i := range 7 {
		name := fmt.Sprintf("Topic-%d", i)
		topics.m[name] = metadata.TopicConfig{TopicName: name, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}
	}
	var mu sync.Mutex
	observed := map[string]int{}  // topic -> messages
	produced := map[string]bool{} // group/topic
	storeHost := netip.MustParseAddrPort("127.0.0.1:10911")
	p := &Send{Config: testConfig, Topics: topics, Groups: fakeGroups{}, Writer: &Writer{Store: st, Config: testConfig},
		StoreHost: storeHost, Log: slog.New(slog.DiscardHandler), Register: func() {},
		Meter: func(topic string) SendMeter {
			topic = strings.Clone(topic)
			return SendMeterFunc(func(msgs, _ int, _ time.Time) {
				mu.Lock()
				observed[topic] += msgs
				mu.Unlock()
			})
		},
		Produced: func(_ *server.Conn, group, topic string) {
			mu.Lock()
			produced[group+"/"+topic] = true
			mu.Unlock()
		}}
	srv := server.New(server.Config{Addr: "127.0.0.1:0", NumEventLoop: 2,
		PoolConfigs: map[string]server.PoolConfig{server.PoolSend: {Workers: 3, Queue: 2 * n}}})
	for _, code := range []int32{remoting.SendMessageV2, remoting.SendBatchMessage} {
		srv.HandleRaw(code, server.PoolSend, p.Handle)
		if inline {
			srv.SetInline(code, func(*server.Conn, *remoting.Command) bool { return true })
		}
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if gated.CompareAndSwap(true, false) {
			close(gate)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Drain(ctx)
		_ = srv.Shutdown(ctx)
		_ = st.Close()
	})

	sends := pipelineRequests(n)
	var wire []byte
	byOpaque := map[int32]*pipelineSend{}
	for _, s := range sends {
		if wire, err = s.req.AppendFrame(wire); err != nil {
			t.Fatal(err)
		}
		byOpaque[s.req.Opaque] = s
	}
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	answers := make(chan *remoting.Command, n)
	readErr := make(chan error, 1)
	go func() {
		for range n {
			c, err := remoting.ReadCommand(conn, 0)
			if err != nil {
				readErr <- err
				return
			}
			answers <- c
		}
		readErr <- nil
	}()
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	if flush == commitlog.SyncFlush {
		waitFor(t, "every send to be owed its answer", func() bool { return srv.Owed() == n })
		if len(answers) != 0 {
			t.Fatalf("%d answers before the msync", len(answers))
		}
		gated.Store(false)
		close(gate)
	}
	if err := <-readErr; err != nil {
		t.Fatalf("read answers: %v", err)
	}
	close(answers)
	if inline && srv.Inline() != n {
		t.Fatalf("%d sends ran inline, want %d", srv.Inline(), n)
	}

	type queueKey struct {
		topic string
		queue int32
	}
	offsets := map[queueKey][]int64{}
	wantObserved := map[string]int{}
	for r := range answers {
		s := byOpaque[r.Opaque]
		if s == nil {
			t.Fatalf("answer with an unknown opaque %d: %+v", r.Opaque, r)
		}
		delete(byOpaque, r.Opaque)
		what := fmt.Sprintf("send idx=%s (%s queue %d)", s.props["idx"], s.topic, s.queue)
		if r.Code != remoting.Success || !r.IsResponse() || r.SerializeType != s.req.SerializeType {
			t.Fatalf("%s: answer code %d flag %d serialization %d remark %q", what, r.Code, r.Flag, r.SerializeType, r.Remark)
		}
		if got := r.ExtValue("queueId"); got != strconv.Itoa(int(s.queue)) {
			t.Fatalf("%s: answer queueId %q", what, got)
		}
		if r.ExtValue("MSG_REGION") != "R" || r.ExtValue("TRACE_ON") != "true" {
			t.Fatalf("%s: answer MSG_REGION %q TRACE_ON %q", what, r.ExtValue("MSG_REGION"), r.ExtValue("TRACE_ON"))
		}
		wantTx := ""
		if s.half {
			wantTx = s.props[message.PropertyUniqKey]
		}
		if got := r.ExtValue("transactionId"); got != wantTx {
			t.Fatalf("%s: answer transactionId %q, want %q", what, got, wantTx)
		}
		queueOffset, err := strconv.ParseInt(r.ExtValue("queueOffset"), 10, 64)
		if err != nil {
			t.Fatalf("%s: answer queueOffset %q", what, r.ExtValue("queueOffset"))
		}
		ids := strings.Split(r.ExtValue("msgId"), ",")
		if len(ids) != len(s.bodies) {
			t.Fatalf("%s: answer msgId %q for %d messages", what, r.ExtValue("msgId"), len(s.bodies))
		}
		wantTopic, wantQueue := s.topic, s.queue
		switch {
		case s.delayed:
			wantTopic, wantQueue = metadata.TopicSchedule, 1
		case s.half:
			wantTopic, wantQueue = metadata.TopicTransHalf, 0
		}
		wantObserved[s.topic] += len(s.bodies)
		k := queueKey{wantTopic, wantQueue}
		for j, id := range ids {
			host, off, err := message.ParseOffsetMsgID(id)
			if err != nil || host != storeHost {
				t.Fatalf("%s: msgId %q: %v %v", what, id, host, err)
			}
			rec, err := st.LookupMessage(off)
			if err != nil {
				t.Fatalf("%s: stored record at %d: %v", what, off, err)
			}
			m, err := message.Decode(rec, true)
			if err != nil {
				t.Fatalf("%s: decode stored record: %v", what, err)
			}
			if m.Topic != wantTopic || m.QueueID != wantQueue || m.QueueOffset != queueOffset+int64(j) {
				t.Fatalf("%s: stored in %s/%d at %d, want %s/%d at %d", what, m.Topic, m.QueueID, m.QueueOffset, wantTopic, wantQueue, queueOffset+int64(j))
			}
			if !bytes.Equal(m.Body, s.bodies[j]) {
				t.Fatalf("%s: stored body %q, want %q", what, m.Body, s.bodies[j])
			}
			if m.BornTimestamp != s.born || (len(s.bodies) == 1 && m.Flag != s.flag) {
				t.Fatalf("%s: stored born %d flag %d", what, m.BornTimestamp, m.Flag)
			}
			want := map[string]string{message.PropertyCluster: "C"}
			if len(s.bodies) > 1 {
				want["entry"] = strconv.Itoa(j)
			} else {
				for pk, pv := range s.props {
					want[pk] = pv
				}
			}
			if s.delayed || s.half {
				want[message.PropertyRealTopic], want[message.PropertyRealQueueID] = s.topic, strconv.Itoa(int(s.queue))
			}
			got := message.ParseProperties(m.EncodedProperties())
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: stored properties %v, want %v", what, got, want)
			}
			offsets[k] = append(offsets[k], m.QueueOffset)
		}
	}
	if len(byOpaque) != 0 {
		t.Fatalf("%d sends not answered", len(byOpaque))
	}
	for k, offs := range offsets {
		seen := map[int64]bool{}
		for _, o := range offs {
			if o < 0 || o >= int64(len(offs)) || seen[o] {
				t.Fatalf("queue %s/%d: offsets %v are not 0..%d once each", k.topic, k.queue, offs, len(offs)-1)
			}
			seen[o] = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(observed) != fmt.Sprint(wantObserved) {
		t.Fatalf("Observe saw %v, want %v", observed, wantObserved)
	}
	for _, s := range sends {
		if !produced[s.group+"/"+s.topic] {
			t.Fatalf("Produced missed %s/%s (saw %v)", s.group, s.topic, produced)
		}
	}
	if len(produced) != 35 {
		t.Fatalf("Produced saw %d pairs, want 35: %v", len(produced), produced)
	}
}
