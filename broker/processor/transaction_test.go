package processor

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// testClock is an injected wall clock (the store stamps messages with it).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openRealStore(t *testing.T, dir string, clock *testClock) *commitlog.Store {
	t.Helper()
	c := commitlog.DefaultConfig(dir)
	c.MappedFileSizeCommitLog = 256 << 10
	c.MappedFileSizeConsumeQueue = 2000
	c.MaxHashSlotNum, c.MaxIndexNum = 1000, 4000
	c.Clock = clock.Now
	s, err := commitlog.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// settle waits until the store's consume queues hold everything written so far.
func settle(t *testing.T, s *commitlog.Store) {
	t.Helper()
	if !s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second) {
		t.Fatalf("store did not dispatch up to %d", s.MaxPhyOffset())
	}
}

// recordingProducers records the checks the processor sends.
type recordingProducers struct {
	mu     sync.Mutex
	online bool
	checks []protocol.CheckTransactionStateRequestHeader
	groups []string
	bodies [][]byte
}

func (p *recordingProducers) Check(group string, _ int, req *remoting.Command) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.online {
		return ErrNoProducer
	}
	h, err := protocol.DecodeCheckTransactionStateRequestHeader(req.RawExt())
	if err != nil {
		return err
	}
	p.checks, p.groups, p.bodies = append(p.checks, h), append(p.groups, group), append(p.bodies, req.Body)
	return nil
}

func (p *recordingProducers) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.checks)
}

type txFixture struct {
	store     *commitlog.Store
	clock     *testClock
	rep       *fakeReplicator
	producers *recordingProducers
	topics    *fakeTopics
	p         *Transactions
	cfg       Config
	writable  bool
}

func txConfig() Config {
	c := testConfig()
	c.TransactionTimeOut = 6 * time.Second
	c.TransactionCheckMax = 3
	return c
}

func newTxFixture(t *testing.T, dir string, clock *testClock) *txFixture {
	f := &txFixture{clock: clock, rep: &fakeReplicator{}, producers: &recordingProducers{online: true}, cfg: txConfig(), writable: true}
	f.store = openRealStore(t, dir, clock)
	f.topics = &fakeTopics{m: map[string]metadata.TopicConfig{"T": {TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}}}
	w := &Writer{Store: f.store, Config: func() Config { return f.cfg }, Replicator: func() Replicator { return f.rep },
		FenceInternal: func() bool { return f.rep.status != ReplicaOK }}
	f.p = &Transactions{Store: f.store, Writer: w, Topics: f.topics, Producers: f.producers,
		StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"), Config: func() Config { return f.cfg },
		Now: clock.Now, Log: slog.New(slog.DiscardHandler), Writable: func() bool { return f.writable }}
	return f
}

// half stores a prepared message of group pg for topic T queue 2, as the send processor would.
func (f *txFixture) half(t *testing.T, body string) *message.Message {
	t.Helper()
	m := &message.Message{Topic: "T", QueueID: 2, SysFlag: message.TransactionPrepared, Body: []byte(body),
		BornTimestamp: f.clock.Now().UnixMilli(), BornHost: netip.MustParseAddrPort("127.0.0.1:5000"), StoreHost: f.p.StoreHost,
		Properties: map[string]string{message.PropertyTransactionPrepared: "true", message.PropertyProducerGroup: "pg",
			message.PropertyUniqKey: "UNIQ-" + body}}
	res := f.p.Writer.Write(WriteSend, m)
	if !res.OK() {
		t.Fatalf("store half message: %+v", res)
	}
	if m.Topic != metadata.TopicTransHalf {
		t.Fatalf("half message went to %s", m.Topic)
	}
	settle(t, f.store)
	return m
}

func endRequest(m *message.Message, kind int32, group string) *remoting.Command {
	h := protocol.EndTransactionRequestHeader{ProducerGroup: group, TranStateTableOffset: m.QueueOffset,
		CommitLogOffset: m.CommitLogOffset, CommitOrRollback: kind, MsgID: m.Properties[message.PropertyUniqKey]}
	return remoting.NewRequestList(remoting.EndTransaction, nil).SetRawExt(h.Append(nil))
}

// bodiesIn returns the bodies stored in topic/queue.
func bodiesIn(t *testing.T, s *commitlog.Store, topic string, qid int32) []string {
	t.Helper()
	settle(t, s)
	var out []string
	res := s.GetMessage(topic, qid, 0, 64, nil)
	for _, raw := range res.Messages {
		m, err := message.Decode(raw, false)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(m.Body))
	}
	return out
}

func TestTransactionsCommitStoresTheRealMessageOnce(t *testing.T) {
	clock := &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := newTxFixture(t, t.TempDir(), clock)
	h := f.half(t, "order-1")
	if got := bodiesIn(t, f.store, "T", 2); len(got) != 0 {
		t.Fatalf("a half message is visible in its real topic before the commit: %v", got)
	}
	for i := 0; i < 2; i++ { // the second END_TRANSACTION is a late duplicate (a check answer)
		resp := f.p.EndTransaction(context.Background(), nil, endRequest(h, protocol.TransactionCommit, "pg"))
		if resp == nil || resp.Code != remoting.Success {
			t.Fatalf("commit %d: %+v", i, resp)
		}
	}
	if got := bodiesIn(t, f.store, "T", 2); len(got) != 1 || got[0] != "order-1" {
		t.Fatalf("real topic after commit: %v, want exactly [order-1]", got)
	}
	res := f.store.GetMessage("T", 2, 0, 1, nil)
	real, _ := message.Decode(res.Messages[0], false)
	if real.SysFlag&message.TransactionMask != message.TransactionCommit || real.PreparedTransactionOffset != h.CommitLogOffset {
		t.Fatalf("committed message: sysFlag %#x preparedOffset %d", real.SysFlag, real.PreparedTransactionOffset)
	}
	if _, ok := real.Properties[message.PropertyRealTopic]; ok {
		t.Fatalf("committed message keeps REAL_TOPIC: %v", real.Properties)
	}
	if ops := bodiesIn(t, f.store, metadata.TopicTransOpHalf, 0); len(ops) != 1 || ops[0] != "0" {
		t.Fatalf("op records: %v, want [0]", ops)
	}
}

func TestTransactionsRollbackStoresNothingButTheOp(t *testing.T) {
	clock := &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := newTxFixture(t, t.TempDir(), clock)
	f.half(t, "a")
	h := f.half(t, "b")
	resp := f.p.EndTransaction(context.Background(), nil, endRequest(h, protocol.TransactionRollback, "pg"))
	if resp == nil || resp.Code != remoting.Success {
		t.Fatalf("rollback: %+v", resp)
	}
	if got := bodiesIn(t, f.store, "T", 2); len(got) != 0 {
		t.Fatalf("rolled back message delivered: %v", got)
	}
	if ops := bodiesIn(t, f.store, metadata.TopicTransOpHalf, 0); len(ops) != 1 || ops[0] != "1" {
		t.Fatalf("op records: %v, want [1]", ops)
	}
	// An unknown outcome writes nothing and is not answered.
	h2 := f.half(t, "c")
	if resp := f.p.EndTransaction(context.Background(), nil, endRequest(h2, protocol.TransactionNotType, "pg")); resp != nil {
		t.Fatalf("unknown outcome answered: %+v", resp)
	}
	if ops := bodiesIn(t, f.store, metadata.TopicTransOpHalf, 0); len(ops) != 1 {
		t.Fatalf("unknown outcome wrote an op: %v", ops)
	}
}

func TestTransactionsRefusesWrongOrBadRequests(t *testing.T) {
	clock := &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := newTxFixture(t, t.TempDir(), clock)
	h := f.half(t, "x")
	plain := &message.Message{Topic: "T", QueueID: 0, Body: []byte("plain"), BornHost: h.BornHost, StoreHost: h.StoreHost,
		Properties: map[string]string{}}
	if res := f.p.Writer.Write(WriteSend, plain); !res.OK() {
		t.Fatal(res)
	}
	settle(t, f.store)
	wrongOffset := *h
	wrongOffset.QueueOffset = 5
	cases := []struct {
		name   string
		req    *remoting.Command
		code   int32
		remark string
	}{
		{"wrong group", endRequest(h, protocol.TransactionCommit, "other"), remoting.SystemError, "producer group wrong"},
		{"wrong table offset", endRequest(&wrongOffset, protocol.TransactionCommit, "pg"), remoting.SystemError, "state table offset wrong"},
		{"not a half message", endRequest(plain, protocol.TransactionCommit, "pg"), remoting.SystemError, "not a prepared transaction message"},
		{"no such offset", endRequest(&message.Message{CommitLogOffset: 1 << 40, Properties: map[string]string{}}, protocol.TransactionCommit, "pg"), remoting.SystemError, "find prepared transaction message failed"},
		{"missing field", remoting.NewRequestList(remoting.EndTransaction, nil).SetRawExt([]protocol.ExtField{{Key: "producerGroup", Value: "pg"}}), remoting.SystemError, "tranStateTableOffset is missing"},
		{"bad number", remoting.NewRequestList(remoting.EndTransaction, nil).SetRawExt([]protocol.ExtField{{Key: "producerGroup", Value: "pg"},
			{Key: "tranStateTableOffset", Value: "0"}, {Key: "commitLogOffset", Value: "zero"}, {Key: "commitOrRollback", Value: "8"}}), remoting.SystemError, `commitLogOffset = "zero"`},
	}
	for _, c := range cases {
		resp := f.p.EndTransaction(context.Background(), nil, c.req)
		if resp == nil || resp.Code != c.code || !strings.Contains(resp.Remark, c.remark) {
			t.Errorf("%s: got %+v, want code %d with %q", c.name, resp, c.code, c.remark)
		}
	}
	f.writable = false
	if resp := f.p.EndTransaction(context.Background(), nil, endRequest(h, protocol.TransactionCommit, "pg")); resp == nil || resp.Code != remoting.ServiceNotAvailable {
		t.Errorf("not the master of its set: %+v", resp)
	}
	f.writable = true
	f.cfg.IsMaster = false
	if resp := f.p.EndTransaction(context.Background(), nil, endRequest(h, protocol.TransactionCommit, "pg")); resp == nil || resp.Code != remoting.SlaveNotAvailable {
		t.Errorf("slave: %+v", resp)
	}
	if got := bodiesIn(t, f.store, "T", 2); len(got) != 0 {
		t.Fatalf("a refused END_TRANSACTION stored the message: %v", got)
	}
	if ops := bodiesIn(t, f.store, metadata.TopicTransOpHalf, 0); len(ops) != 0 {
		t.Fatalf("a refused END_TRANSACTION wrote an op: %v", ops)
	}
}

func TestTransactionsFencedCommitWithoutReplicasStaysOpen(t *testing.T) {
	clock := &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := newTxFixture(t, t.TempDir(), clock)
	h := f.half(t, "fenced")
	f.rep.status = ReplicaNotEnough // controller mode with too few in-sync replicas
	resp := f.p.EndTransaction(context.Background(), nil, endRequest(h, protocol.TransactionCommit, "pg"))
	if resp == nil || resp.Code == remoting.Success {
		t.Fatalf("commit answered %+v although the replicas do not have it", resp)
	}
	if ops := bodiesIn(t, f.store, metadata.TopicTransOpHalf, 0); len(ops) != 0 {
		t.Fatalf("op recorded for a commit the replicas lack: %v", ops)
	}
	// Still open: the check-back asks the producer once the timeout has passed.
	clock.Advance(7 * time.Second)
	f.p.CheckPass(clock.Now())
	if n := f.producers.count(); n != 1 {
		t.Fatalf("checks sent for the open transaction: %d, want 1", n)
	}
	// The replicas are back: the producer's answer ends it.
	f.rep.status = ReplicaOK
	if resp := f.p.EndTransaction(context.Background(), nil, endRequest(h, protocol.TransactionCommit, "pg")); resp == nil || resp.Code != remoting.Success {
		t.Fatalf("commit after the replicas came back: %+v", resp)
	}
	// The first attempt stored a copy on the master before the fence refused it: a redelivery
	// (never a loss) — both copies carry the same unique key.
	if got := bodiesIn(t, f.store, "T", 2); len(got) != 2 {
		t.Fatalf("real topic: %v, want the refused copy and the acknowledged one", got)
	}
}

func TestTransactionsCheckPass(t *testing.T) {
	clock := &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := newTxFixture(t, t.TempDir(), clock)
	old := f.half(t, "old")
	ended := f.half(t, "ended")
	if resp := f.p.EndTransaction(context.Background(), nil, endRequest(ended, protocol.TransactionRollback, "pg")); resp.Code != remoting.Success {
		t.Fatal(resp)
	}
	clock.Advance(5 * time.Second)
	f.half(t, "young")
	f.p.CheckPass(clock.Now()) // old is 5 s old: not yet
	if n := f.producers.count(); n != 0 {
		t.Fatalf("checked before transactionTimeOut: %d", n)
	}
	clock.Advance(2 * time.Second) // old 7 s, young 2 s
	f.p.CheckPass(clock.Now())
	if n := f.producers.count(); n != 1 {
		t.Fatalf("checks: %d, want 1 (only the old open one)", n)
	}
	c := f.producers.checks[0]
	if c.TranStateTableOffset != old.QueueOffset || c.CommitLogOffset != old.CommitLogOffset || c.MsgID != "UNIQ-old" || f.producers.groups[0] != "pg" {
		t.Fatalf("check header %+v group %s", c, f.producers.groups[0])
	}
	body, err := message.Decode(f.producers.bodies[0], false)
	if err != nil || body.Topic != "T" || string(body.Body) != "old" || body.Properties[message.PropertyTransactionPrepared] != "true" {
		t.Fatalf("check body: %+v, %v", body, err)
	}
	// Three more passes a minute apart: old is checked twice more (3 checks in all, the
	// maximum) and then moved to TRANS_CHECK_MAX_TIME_TOPIC with an op record.
	for i := 0; i < 3; i++ {
		clock.Advance(time.Minute)
		f.p.CheckPass(clock.Now())
	}
	if got := bodiesIn(t, f.store, metadata.TopicTransCheckMax, 0); len(got) != 1 || got[0] != "old" {
		t.Fatalf("%s after the maximum checks: %v, want [old]", metadata.TopicTransCheckMax, got)
	}
	if _, ok := f.topics.m[metadata.TopicTransCheckMax]; !ok {
		t.Fatalf("%s was not created", metadata.TopicTransCheckMax)
	}
	before := f.producers.count()
	clock.Advance(time.Minute)
	f.p.CheckPass(clock.Now())
	for _, c := range f.producers.checks[before:] {
		if c.TranStateTableOffset == old.QueueOffset {
			t.Fatalf("a discarded transaction was checked again")
		}
	}
	if got := bodiesIn(t, f.store, "T", 2); len(got) != 0 {
		t.Fatalf("nothing was committed, yet the real topic has %v", got)
	}
}

func TestTransactionsCheckPassLearnsOpsWrittenBefore(t *testing.T) {
	clock := &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	dir := t.TempDir()
	f := newTxFixture(t, dir, clock)
	a := f.half(t, "a")
	f.half(t, "b")
	if resp := f.p.EndTransaction(context.Background(), nil, endRequest(a, protocol.TransactionCommit, "pg")); resp.Code != remoting.Success {
		t.Fatal(resp)
	}
	settle(t, f.store)
	// A new processor on the same store (a broker restart) knows nothing in memory.
	g := &Transactions{Store: f.store, Writer: f.p.Writer, Topics: f.topics, Producers: f.producers, StoreHost: f.p.StoreHost,
		Config: f.p.Config, Now: clock.Now, Log: f.p.Log}
	clock.Advance(10 * time.Second)
	g.CheckPass(clock.Now())
	if n := f.producers.count(); n != 1 || f.producers.checks[0].TranStateTableOffset != 1 {
		t.Fatalf("checks after restart: %+v, want only half offset 1", f.producers.checks)
	}
	// A late duplicate commit of a is recognised as ended by the new processor.
	if resp := g.EndTransaction(context.Background(), nil, endRequest(a, protocol.TransactionCommit, "pg")); resp.Code != remoting.Success {
		t.Fatal(resp)
	}
	if got := bodiesIn(t, f.store, "T", 2); len(got) != 1 {
		t.Fatalf("real topic: %v, want one copy of a", got)
	}
}

func TestTransactionsNoProducerOnline(t *testing.T) {
	clock := &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := newTxFixture(t, t.TempDir(), clock)
	f.producers.online = false
	f.half(t, "lonely")
	clock.Advance(time.Minute)
	f.p.CheckPass(clock.Now()) // must not fail or write anything
	if ops := bodiesIn(t, f.store, metadata.TopicTransOpHalf, 0); len(ops) != 0 {
		t.Fatalf("op written with no producer online: %v", ops)
	}
}
