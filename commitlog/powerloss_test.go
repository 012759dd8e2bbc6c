package commitlog

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/commitlog/vfs"
	"github.com/skiffmq/skiff/internal/message"
)

// Power-loss tests run the store on vfs.MemFS: only bytes that were msynced/fsynced survive a
// crash, plus (to tear records and consume-queue entries as real write-back does) a random,
// seeded subset of the dirty 4 KiB pages. Each round opens the store on the image the previous
// crash left, checks it, lets writers append from several goroutines and cuts the power after a
// random number of acknowledgements while they are still writing.
//
// SKIFF_TEST_SEED repeats a run (the seed is printed when a test fails).
// SKIFF_POWERLOSS_ACK_EARLY=1 runs TestCommitLogPowerLossSyncFlush and
// TestCommitLogPowerLossSyncFlushDeferred against a store that acknowledges SYNC_FLUSH sends
// before flushing: both must then fail.

func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if v := os.Getenv("SKIFF_TEST_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SKIFF_TEST_SEED=%q: %v", v, err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (set SKIFF_TEST_SEED=%d to repeat)", seed, seed)
		}
	})
	return seed
}

func powerLossConfig(flush string, mfs *vfs.MemFS) Config {
	c := testConfig("/store")
	c.FS = mfs
	c.FlushDiskType = flush
	c.MaxHashSlotNum, c.MaxIndexNum = 512, 4096 // the index lives in memory too
	return c
}

type ackedMsg struct {
	queue int32
	end   int64 // commit-log end of the record (ASYNC: may be lost only if past the flushed offset)
}

// powerLossResult is what the checks found after the last reopen.
type powerLossResult struct {
	acked, stored, lost int
	lostBeforeFlushed   int // ASYNC: acknowledged and below the flushed offset at the crash
	problems            []string
}

// runPowerLoss runs rounds of append-then-crash and checks every reopened image. With deferred
// the writers append with PutMessagesThen, up to 16 writes in flight each, and a message counts
// as acknowledged when its completion reports PutOK (the broker's SYNC_FLUSH send path);
// otherwise each writer blocks in PutMessage.
func runPowerLoss(t *testing.T, c Config, mfs *vfs.MemFS, seed uint64, rounds int, deferred bool) powerLossResult {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	var res powerLossResult
	acked := map[string]ackedMsg{}
	flushedAtCrash := map[string]int64{} // id → flushed offset of the store at the crash that followed its ack
	check := func(s *Store) {
		seen := map[string]bool{}
		for q := int32(0); q < 4; q++ {
			lo := s.MinOffsetInQueue("PL", q)
			hi := s.MaxOffsetInQueue("PL", q)
			msgs := pullAllChecked(s, "PL", q, &res.problems)
			if int64(len(msgs)) != hi-lo {
				res.problems = append(res.problems, fmt.Sprintf("queue %d: offsets %d..%d but %d messages readable (a hole or a torn entry)", q, lo, hi, len(msgs)))
			}
			for i, m := range msgs {
				if m.QueueOffset != lo+int64(i) {
					res.problems = append(res.problems, fmt.Sprintf("queue %d entry %d has queue offset %d", q, i, m.QueueOffset))
				}
				id := m.Properties["KEYS"]
				if string(m.Body) != string(crashBody(id)) {
					res.problems = append(res.problems, fmt.Sprintf("message %s is not byte-identical (queue %d offset %d phy %d props %v body %d bytes %q)", id, q, m.QueueOffset, m.CommitLogOffset, m.Properties, len(m.Body), m.Body[:min(len(m.Body), 40)]))
				}
				if seen[id] {
					res.problems = append(res.problems, fmt.Sprintf("message %s stored twice", id))
				}
				seen[id] = true
			}
		}
		res.stored = len(seen)
		res.lost, res.lostBeforeFlushed = 0, 0
		for id, a := range acked {
			if !seen[id] {
				res.lost++
				if a.end <= flushedAtCrash[id] {
					res.lostBeforeFlushed++
				}
			}
		}
	}
	for round := 0; round < rounds; round++ {
		s, err := Open(c)
		if err != nil {
			t.Fatalf("round %d: open after power loss: %v", round, err)
		}
		check(s)
		target := int64(20 + rng.IntN(250))
		var mu sync.Mutex
		var n atomic.Int64
		var pending []string
		crashed := make(chan struct{})
		var once sync.Once
		var flushedAt int64
		cut := func() {
			once.Do(func() {
				// Hold off appends and dispatch so that no goroutine writes mapped bytes while
				// the image is taken; flushes and SYNC_FLUSH waiters are caught mid-flight.
				s.appendMu.Lock()
				s.dispatchMu.Lock()
				keepSeed := rng.Uint64()
				keep := rand.New(rand.NewPCG(keepSeed, 3))
				var km sync.Mutex
				mfs.CrashKeeping(func(string, int64) bool {
					km.Lock()
					defer km.Unlock()
					return keep.IntN(2) == 0
				})
				flushedAt = s.FlushedOffset() // flushes after the crash fail, so it is final
				s.dispatchMu.Unlock()
				s.appendMu.Unlock()
				close(crashed)
			})
		}
		ack := func(id string, r PutResult, queue int32) {
			if r.Status != PutOK {
				return
			}
			mu.Lock()
			acked[id] = ackedMsg{queue: queue, end: r.EndOffset}
			pending = append(pending, id)
			mu.Unlock()
			if n.Add(1) == target {
				cut()
			}
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			if deferred {
				go func(g int) {
					defer wg.Done()
					inFlight := make(chan struct{}, 16)
					for i := 0; ; i++ {
						select {
						case <-crashed:
							return
						case inFlight <- struct{}{}:
						}
						id := fmt.Sprintf("r%d-g%d-%d", round, g, i)
						m := newMsg("PL", int32(g%4), "", map[string]string{"KEYS": id})
						m.Body = crashBody(id)
						done := func(r PutResult) {
							<-inFlight
							ack(id, r, m.QueueID)
						}
						if r, later := s.PutMessagesThen([]*message.Message{m}, done); !later {
							done(r)
						}
					}
				}(g)
				continue
			}
			go func(g int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-crashed:
						return
					default:
					}
					id := fmt.Sprintf("r%d-g%d-%d", round, g, i)
					m := newMsg("PL", int32(g%4), "", map[string]string{"KEYS": id})
					m.Body = crashBody(id)
					ack(id, s.PutMessage(m), m.QueueID)
				}
			}(g)
		}
		wg.Wait()
		_ = s.Close() // every file handle is stale: Close must fail quietly, not hang (it answers the writes still owed)
		for _, id := range pending {
			flushedAtCrash[id] = flushedAt
		}
	}
	s, err := Open(c)
	if err != nil {
		t.Fatalf("final open after power loss: %v", err)
	}
	defer s.Close()
	check(s)
	res.acked = len(acked)
	// Appends continue after the recovered end.
	m := newMsg("PL", 0, "", map[string]string{"KEYS": "after"})
	m.Body = crashBody("after")
	if r := s.PutMessage(m); r.Status != PutOK {
		res.problems = append(res.problems, fmt.Sprintf("append after recovery: %+v", r))
	}
	return res
}

// pullAllChecked reads a whole queue, recording (not failing on) records that do not decode.
func pullAllChecked(s *Store, topic string, qid int32, problems *[]string) []*message.Message {
	var out []*message.Message
	off := s.MinOffsetInQueue(topic, qid)
	for {
		r := s.GetMessage(topic, qid, off, 32, nil)
		if r.Status != Found {
			return out
		}
		for _, raw := range r.Messages {
			m, err := message.Decode(raw, true)
			if err != nil {
				*problems = append(*problems, fmt.Sprintf("queue %d: a served record does not decode: %v", qid, err))
				continue
			}
			out = append(out, m)
		}
		off = r.NextBeginOffset
	}
}

// TestCommitLogPowerLossSyncFlush: with SYNC_FLUSH every acknowledged message survives every
// power cut intact, nothing torn is ever served, queue offsets stay dense.
func TestCommitLogPowerLossSyncFlush(t *testing.T) {
	seed := testSeed(t)
	mfs := vfs.NewMem()
	c := powerLossConfig(SyncFlush, mfs)
	c.ackBeforeFlush = os.Getenv("SKIFF_POWERLOSS_ACK_EARLY") == "1"
	rounds := 8
	if testing.Short() {
		rounds = 5
	}
	res := runPowerLoss(t, c, mfs, seed, rounds, false)
	for _, p := range res.problems {
		t.Error(p)
	}
	if res.lost > 0 {
		t.Errorf("%d of %d acknowledged messages lost in a power cut under SYNC_FLUSH", res.lost, res.acked)
	}
	if res.acked == 0 {
		t.Fatal("nothing was acknowledged")
	}
	t.Logf("SYNC_FLUSH power loss: %d rounds, %d acknowledged, %d stored after the last crash, %d lost", rounds, res.acked, res.stored, res.lost)
}

// TestCommitLogPowerLossSyncFlushDeferred is TestCommitLogPowerLossSyncFlush on the deferred
// path (PutMessagesThen, many writes in flight per writer, acknowledged by the store's answering
// goroutine after the covering msync): no acknowledged message is lost either.
func TestCommitLogPowerLossSyncFlushDeferred(t *testing.T) {
	seed := testSeed(t)
	mfs := vfs.NewMem()
	c := powerLossConfig(SyncFlush, mfs)
	c.ackBeforeFlush = os.Getenv("SKIFF_POWERLOSS_ACK_EARLY") == "1"
	rounds := 8
	if testing.Short() {
		rounds = 5
	}
	res := runPowerLoss(t, c, mfs, seed, rounds, true)
	for _, p := range res.problems {
		t.Error(p)
	}
	if res.lost > 0 {
		t.Errorf("%d of %d acknowledged messages lost in a power cut under SYNC_FLUSH (deferred answers)", res.lost, res.acked)
	}
	if res.acked == 0 {
		t.Fatal("nothing was acknowledged")
	}
	t.Logf("SYNC_FLUSH deferred power loss: %d rounds, %d acknowledged, %d stored after the last crash, %d lost", rounds, res.acked, res.stored, res.lost)
}

// TestCommitLogPowerLossDeferredCatchesEarlyAck: the deferred test against a store whose flusher
// hands completions over before its msync must find lost messages.
func TestCommitLogPowerLossDeferredCatchesEarlyAck(t *testing.T) {
	seed := testSeed(t)
	mfs := vfs.NewMem()
	c := powerLossConfig(SyncFlush, mfs)
	c.ackBeforeFlush = true
	res := runPowerLoss(t, c, mfs, seed, 5, true)
	if res.lost == 0 {
		t.Fatalf("a store that acks before flushing lost nothing in 5 power cuts (%d acknowledged, deferred answers): the power-loss test cannot see early acks", res.acked)
	}
	t.Logf("ack-before-flush store, deferred answers: %d of %d acknowledged messages lost, as expected", res.lost, res.acked)
}

// TestCommitLogPowerLossCatchesEarlyAck is the check of the check: the same test against a
// store that acknowledges SYNC_FLUSH sends before flushing must find lost messages.
func TestCommitLogPowerLossCatchesEarlyAck(t *testing.T) {
	seed := testSeed(t)
	mfs := vfs.NewMem()
	c := powerLossConfig(SyncFlush, mfs)
	c.ackBeforeFlush = true
	res := runPowerLoss(t, c, mfs, seed, 5, false)
	if res.lost == 0 {
		t.Fatalf("a store that acks before flushing lost nothing in 5 power cuts (%d acknowledged): the power-loss test cannot see early acks", res.acked)
	}
	t.Logf("ack-before-flush store: %d of %d acknowledged messages lost, as expected", res.lost, res.acked)
}

// TestCommitLogPowerLossAsyncFlush: with ASYNC_FLUSH only messages past the last flush may be
// lost, never one below it, and nothing torn is served.
func TestCommitLogPowerLossAsyncFlush(t *testing.T) {
	seed := testSeed(t)
	mfs := vfs.NewMem()
	c := powerLossConfig(AsyncFlush, mfs)
	c.FlushIntervalCommitLog = time.Millisecond // flush often, so crashes fall between flushes
	c.FlushCommitLogLeastPages = 1
	res := runPowerLoss(t, c, mfs, seed, 5, false)
	for _, p := range res.problems {
		t.Error(p)
	}
	if res.lostBeforeFlushed > 0 {
		t.Errorf("%d acknowledged messages below the flushed offset were lost under ASYNC_FLUSH", res.lostBeforeFlushed)
	}
	t.Logf("ASYNC_FLUSH power loss: %d acknowledged, %d stored, %d lost (all past the flushed offset)", res.acked, res.stored, res.lost)
}

// TestCommitLogPowerLossTornRecordTailNotServed: a record whose head page reached the disk but
// whose last page did not (its properties come back as zeros, while its body CRC still matches)
// is cut as a torn tail after the crash, never served; the records before it stay.
func TestCommitLogPowerLossTornRecordTailNotServed(t *testing.T) {
	mfs := vfs.NewMem()
	c := powerLossConfig(AsyncFlush, mfs)
	c.FlushIntervalCommitLog = time.Hour // nothing reaches the disk but what the crash keeps
	c.FlushCommitLogThoroughInterval = time.Hour
	s := mustOpen(t, c)
	// Size a so that the page boundary falls inside b's properties: b's body (CRC-checked) is
	// whole in page 0 and only its properties' last bytes are in page 1.
	b := newMsg("Torn", 0, strings.Repeat("b", 1500), map[string]string{"KEYS": "b-with-a-longer-key"})
	sizeOf := func(m *message.Message) int {
		n, err := m.SizeWithProperties(message.FormatProperties(m.Properties))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a := newMsg("Torn", 0, "", map[string]string{"KEYS": "a"})
	a.Body = []byte(strings.Repeat("a", vfs.PageSize+8-sizeOf(b)-sizeOf(a)))
	ra := s.PutMessage(a)
	rb := s.PutMessage(b)
	if ra.Status != PutOK || rb.Status != PutOK {
		t.Fatalf("puts: %+v %+v", ra, rb)
	}
	tailPage := (rb.EndOffset - 1) / vfs.PageSize
	if rb.CommitLogOffset != ra.EndOffset || rb.EndOffset != vfs.PageSize+8 || tailPage != 1 {
		t.Fatalf("record b is at %d..%d, want %d..%d", rb.CommitLogOffset, rb.EndOffset, ra.EndOffset, vfs.PageSize+8)
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	seg := filepath.Join(c.StorePathCommitLog, segmentName(0))
	mfs.CrashKeeping(func(path string, page int64) bool { return path != seg || page != tailPage })
	_ = s.Close()

	s = mustOpen(t, c)
	defer s.Close()
	got := pullAll(t, s, "Torn", 0)
	if len(got) != 1 || got[0].Properties["KEYS"] != "a" || string(got[0].Body) != string(a.Body) {
		var keys []string
		for _, m := range got {
			keys = append(keys, fmt.Sprintf("%q", m.Properties["KEYS"]))
		}
		t.Fatalf("after losing the last page of record b: served keys %v, want only \"a\"", keys)
	}
	if s.MaxPhyOffset() != ra.EndOffset {
		t.Fatalf("log ends at %d, want the end of a (%d)", s.MaxPhyOffset(), ra.EndOffset)
	}
}

// TestCommitLogRefusesNULInTopicOrProperties: the invariant checkNotTorn relies on.
func TestCommitLogRefusesNULInTopicOrProperties(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	for _, m := range []*message.Message{
		newMsg("Nul", 0, "x", map[string]string{"K": "v\x00w"}),
		newMsg("Nul\x00", 0, "x", nil),
	} {
		if r := s.PutMessage(m); r.Status != MessageIllegal || r.Err == nil || !strings.Contains(r.Err.Error(), "NUL") {
			t.Fatalf("put of topic %q props %q = %+v, want MessageIllegal naming the NUL byte", m.Topic, m.Properties, r)
		}
	}
	if r := s.PutMessage(newMsg("Nul", 0, "body with \x00 is fine", nil)); r.Status != PutOK {
		t.Fatalf("a NUL in the body was refused: %+v", r)
	}
}
