package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/commitlog/vfs"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// deferFixture is the send processor on a real SYNC_FLUSH store behind a real remoting server.
// The store's commit-log msyncs wait while gated (release lets them through for good).
type deferFixture struct {
	store    *commitlog.Store
	srv      *server.Server
	cli      *rpc.Client
	gated    atomic.Bool
	opened   atomic.Bool // set just before the gate opens
	gate     chan struct{}
	once     sync.Once
	rep      *gateReplicator
	observed atomic.Int64
}

// gateReplicator is a SYNC_MASTER whose slave acks only once released (when gated).
type gateReplicator struct {
	gated    atomic.Bool
	released atomic.Bool
	gate     chan struct{}
	once     sync.Once
	waits    atomic.Int32
}

func (r *gateReplicator) Replicate(_ commitlog.PutResult, wait bool) ReplicaStatus {
	if wait {
		r.waits.Add(1)
		if r.gated.Load() {
			<-r.gate
		}
	}
	return ReplicaOK
}

func (r *gateReplicator) release() {
	r.once.Do(func() { r.released.Store(true); close(r.gate) })
}

func newDeferFixture(t *testing.T, syncMaster bool, mutate func(*commitlog.Config)) *deferFixture {
	return newDeferFixtureOn(t, syncMaster, mutate, nil)
}

// newDeferFixtureOn is newDeferFixture with the Writer's store wrapped (nil: the store itself).
func newDeferFixtureOn(t *testing.T, syncMaster bool, mutate func(*commitlog.Config), wrap func(*commitlog.Store) Store) *deferFixture {
	t.Helper()
	f := &deferFixture{gate: make(chan struct{})}
	cfg := commitlog.DefaultConfig(t.TempDir())
	cfg.FlushDiskType = commitlog.SyncFlush
	cfg.MappedFileSizeCommitLog = 1 << 20
	cfg.MappedFileSizeConsumeQueue = 6000
	cfg.WarmMappedFile = false
	cfg.FS = vfs.NewErrorFS(vfs.Default, func(op vfs.Op, path string) error {
		if op == vfs.OpMsync && strings.Contains(path, "commitlog") && f.gated.Load() {
			<-f.gate
		}
		return nil
	})
	if mutate != nil {
		mutate(&cfg)
	}
	st, err := commitlog.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.store = st
	var ws Store = st
	if wrap != nil {
		ws = wrap(st)
	}
	w := &Writer{Store: ws, Config: testConfig}
	if syncMaster {
		f.rep = &gateReplicator{gate: make(chan struct{})}
		w.Replicator = func() Replicator { return f.rep }
	}
	topics := &fakeTopics{m: map[string]metadata.TopicConfig{
		"T":                   {TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6},
		metadata.TopicDefault: {TopicName: metadata.TopicDefault, ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7},
	}}
	p := &Send{Config: testConfig, Topics: topics, Groups: fakeGroups{}, Writer: w,
		StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"), Log: slog.New(slog.DiscardHandler), Register: func() {},
		Meter: func(string) SendMeter {
			return SendMeterFunc(func(int, int, time.Time) { f.observed.Add(1) })
		}}
	f.srv = server.New(server.Config{Addr: "127.0.0.1:0", PoolConfigs: map[string]server.PoolConfig{server.PoolSend: {Workers: 2, Queue: 1000}}})
	f.srv.HandleRaw(remoting.SendMessageV2, server.PoolSend, p.Handle)
	f.srv.HandleRaw(remoting.SendBatchMessage, server.PoolSend, p.Handle)
	if err := f.srv.Start(); err != nil {
		t.Fatal(err)
	}
	f.cli = rpc.New(rpc.Config{DialTimeout: 5 * time.Second})
	t.Cleanup(func() {
		f.release()
		if f.rep != nil {
			f.rep.release()
		}
		_ = f.cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = f.srv.Drain(ctx)
		_ = f.srv.Shutdown(ctx)
		_ = st.Close()
	})
	return f
}

func (f *deferFixture) release() {
	f.once.Do(func() { f.opened.Store(true); close(f.gate) })
}

// sendAsync sends n messages on one connection and collects the answers.
func (f *deferFixture) sendAsync(t *testing.T, n int, batch bool, onAnswer func(*remoting.Command)) chan *remoting.Command {
	t.Helper()
	got := make(chan *remoting.Command, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	for i := range n {
		req := sendRequest("T", fmt.Sprintf("KEYS\x01k%d", i))
		if batch {
			body := message.EncodeBatch([]message.BatchEntry{{Body: []byte("a")}, {Body: []byte("b")}})
			h := sendHeaderFor("T", true)
			req = remoting.NewRequestList(remoting.SendBatchMessage, body).SetRawExt(h.AppendShort(nil))
		}
		err := f.cli.InvokeAsync(ctx, f.srv.Addr(), req, func(r *remoting.Command, err error) {
			if err != nil {
				t.Errorf("send %d: %v", i, err)
				r = nil
			}
			if onAnswer != nil && r != nil {
				onAnswer(r)
			}
			got <- r
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSendDeferredAnswersOnlyAfterTheCoveringMsync: under SYNC_FLUSH, sends (single and batch)
// whose msync is stuck are not answered, leave no worker parked (more sends in flight than
// workers are all stored), and Drain waits for them; once the msync finishes every send is
// answered SUCCESS.
func TestSendDeferredAnswersOnlyAfterTheCoveringMsync(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			f := newDeferFixture(t, false, nil)
			f.gated.Store(true)
			const n = 40 // 20 x the send pool's 2 workers
			early := atomic.Int32{}
			got := f.sendAsync(t, n, batch, func(*remoting.Command) {
				if !f.opened.Load() {
					early.Add(1)
				}
			})
			// Every send is stored and waits for its msync, though only 2 workers exist.
			waitFor(t, "every send to be stored", func() bool { return f.store.PendingFlushes() == n })
			if o := f.srv.Owed(); o != n {
				t.Fatalf("owed answers %d, want %d", o, n)
			}
			short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if err := f.srv.Drain(short); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Drain while %d answers wait for their msync = %v, want a deadline error", n, err)
			}
			f.release()
			for range n {
				r := <-got
				if r == nil || r.Code != remoting.Success || r.ExtValue("msgId") == "" {
					t.Fatalf("answer %+v", r)
				}
				if batch && strings.Count(r.ExtValue("msgId"), ",") != 1 {
					t.Fatalf("batch answer msgId %q, want two ids", r.ExtValue("msgId"))
				}
			}
			if e := early.Load(); e != 0 {
				t.Fatalf("%d sends answered before their msync finished", e)
			}
			if f.srv.Owed() != 0 || f.observed.Load() != n {
				t.Fatalf("owed %d, observed %d", f.srv.Owed(), f.observed.Load())
			}
		})
	}
}

// TestSendDeferredTimeoutAnswersFlushDiskTimeout: a send whose msync does not finish within
// SyncFlushTimeout is answered FLUSH_DISK_TIMEOUT with its msgId (the message is stored).
func TestSendDeferredTimeoutAnswersFlushDiskTimeout(t *testing.T) {
	f := newDeferFixture(t, false, func(c *commitlog.Config) { c.SyncFlushTimeout = 50 * time.Millisecond })
	f.gated.Store(true)
	got := f.sendAsync(t, 5, false, nil)
	for range 5 {
		r := <-got
		if r == nil || r.Code != remoting.FlushDiskTimeout || r.ExtValue("msgId") == "" {
			t.Fatalf("answer to a send whose msync is stuck: %+v, want FLUSH_DISK_TIMEOUT", r)
		}
	}
	if f.opened.Load() {
		t.Fatal("the gate opened early")
	}
}

// TestSendDeferredSyncMasterWaitsForBoth: a SYNC_MASTER send under SYNC_FLUSH is answered only
// when both its msync and the slave's ack are done, whichever comes last.
func TestSendDeferredSyncMasterWaitsForBoth(t *testing.T) {
	for _, flushFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("flushFirst=%v", flushFirst), func(t *testing.T) {
			f := newDeferFixture(t, true, nil)
			f.gated.Store(true)
			f.rep.gated.Store(true)
			early := atomic.Int32{}
			got := f.sendAsync(t, 1, false, func(*remoting.Command) {
				if !f.opened.Load() || !f.rep.released.Load() {
					early.Add(1)
				}
			})
			waitFor(t, "the replica wait", func() bool { return f.rep.waits.Load() == 1 })
			if flushFirst {
				f.release()
				waitFor(t, "the msync", func() bool { return f.store.PendingFlushes() == 0 })
				f.rep.release()
			} else {
				f.rep.release()
				f.release()
			}
			if r := <-got; r == nil || r.Code != remoting.Success {
				t.Fatalf("answer %+v", r)
			}
			if early.Load() != 0 {
				t.Fatal("answered before both the msync and the slave's ack")
			}
		})
	}
}

// TestWriterWriteThenJoinsFlushAndReplica: WriteThen reports the flush outcome and the replica
// outcome in one result, once, after both.
func TestWriterWriteThenJoinsFlushAndReplica(t *testing.T) {
	st := &deferStore{}
	rep := &fakeReplicator{status: ReplicaTimeout}
	w := &Writer{Store: st, Config: testConfig, Replicator: func() Replicator { return rep }}
	var got []WriteResult
	m := &message.Message{Topic: "T", Body: []byte("x")}
	_, deferred := w.WriteThen(WriteSend, func(r WriteResult) { got = append(got, r) }, m)
	if !deferred || len(got) != 0 || rep.waits != 1 {
		t.Fatalf("deferred=%v answers=%d replica waits=%d", deferred, len(got), rep.waits)
	}
	st.done(commitlog.PutResult{Status: commitlog.FlushDiskTimeout, MsgCount: 1})
	if len(got) != 1 || got[0].Status != commitlog.FlushDiskTimeout || got[0].Replica != ReplicaTimeout || got[0].Code() != remoting.FlushSlaveTimeout {
		t.Fatalf("answers %+v", got)
	}
	if w.Defers() != true {
		t.Fatal("a SYNC_FLUSH DeferringStore does not defer")
	}
}

// deferStore defers every put and keeps the last callback.
type deferStore struct {
	fakeStore
	done func(commitlog.PutResult)
}

func (s *deferStore) PutMessagesThen(msgs []*message.Message, done func(commitlog.PutResult)) (commitlog.PutResult, bool) {
	res := s.PutMessages(msgs)
	s.done = done
	return res, true
}

func (s *deferStore) SyncFlush() bool { return true }

func sendHeaderFor(topic string, batch bool) sendHeader {
	return sendHeader{ProducerGroup: "pg", Topic: topic, DefaultTopic: metadata.TopicDefault,
		DefaultTopicQueueNums: 4, QueueID: 1, BornTimestamp: 1, Batch: batch}
}

// panicStore panics in the deferred put (a bug below the send processor).
type panicStore struct{ *commitlog.Store }

func (panicStore) PutMessagesThen([]*message.Message, func(commitlog.PutResult)) (commitlog.PutResult, bool) {
	panic("store bug")
}

// TestSendDeferredPanicDoesNotLeaveAnAnswerOwed: a panic after the send took its Deferred is
// answered SYSTEM_ERROR by the server, and Drain does not wait for the promise.
func TestSendDeferredPanicDoesNotLeaveAnAnswerOwed(t *testing.T) {
	f := newDeferFixtureOn(t, false, nil, func(s *commitlog.Store) Store { return panicStore{s} })
	r := <-f.sendAsync(t, 1, false, nil)
	if r == nil || r.Code != remoting.SystemError || !strings.Contains(r.Remark, "store bug") {
		t.Fatalf("answer to a send whose store panicked: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Drain(ctx); err != nil || f.srv.Owed() != 0 {
		t.Fatalf("Drain after the panic: %v, owed %d", err, f.srv.Owed())
	}
}
