package commitlog

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffmq/skiff/commitlog/vfs"
	"github.com/skiffmq/skiff/internal/message"
)

// gatedStore opens a SYNC_FLUSH store whose commit-log msyncs wait while the gate is closed
// (close(open) lets them through for good) and fail with failWith when it is set; fsys sees
// how far the msyncs made the log durable, from outside the store.
type gatedStore struct {
	s        *Store
	fsys     *msyncFS
	open     chan struct{}
	once     sync.Once
	gated    atomic.Bool
	failWith atomic.Pointer[error]
}

func openGated(t *testing.T, mutate func(*Config)) *gatedStore {
	t.Helper()
	g := &gatedStore{open: make(chan struct{})}
	c := testConfig(t.TempDir())
	c.FlushDiskType = SyncFlush
	c.MappedFileSizeCommitLog = 1 << 20
	efs := vfs.NewErrorFS(vfs.Default, func(op vfs.Op, path string) error {
		if op != vfs.OpMsync || !strings.Contains(path, "commitlog") {
			return nil
		}
		if g.gated.Load() {
			<-g.open
		}
		if p := g.failWith.Load(); p != nil {
			return *p
		}
		return nil
	})
	g.fsys = &msyncFS{FS: efs, dir: c.StorePathCommitLog}
	c.FS = g.fsys
	if mutate != nil {
		mutate(&c)
	}
	g.s = mustOpen(t, c)
	// A failed check must not leave the flusher stuck at the gate (Close would hang).
	t.Cleanup(func() { g.release(); _ = g.s.Close() })
	return g
}

// release opens the gate for good.
func (g *gatedStore) release() { g.once.Do(func() { close(g.open) }) }

// answer is what one completion callback saw.
type answer struct {
	res     PutResult
	durable int64 // msync'd end (file-system view) when the callback ran
	flushed int64 // the store's durable end when the callback ran
}

type answers struct {
	mu  sync.Mutex
	got []answer
	all chan struct{}
	n   int
}

func newAnswers(n int) *answers { return &answers{all: make(chan struct{}), n: n} }

func (a *answers) callback(g *gatedStore) func(PutResult) {
	return func(r PutResult) {
		_, durable := g.fsys.snapshot()
		a.mu.Lock()
		a.got = append(a.got, answer{res: r, durable: durable, flushed: g.s.FlushedOffset()})
		if len(a.got) == a.n {
			close(a.all)
		}
		a.mu.Unlock()
	}
}

func (a *answers) wait(t *testing.T) []answer {
	t.Helper()
	select {
	case <-a.all:
	case <-time.After(10 * time.Second):
		a.mu.Lock()
		defer a.mu.Unlock()
		t.Fatalf("%d of %d completions answered after 10 s", len(a.got), a.n)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]answer(nil), a.got...)
}

func (a *answers) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got)
}

// TestCommitLogCompletionsAnsweredInOffsetOrderAfterCoveringFlush: writes registered from several
// goroutines while an msync is stuck are not answered until a later msync covers them; then one
// msync answers all of them, in commit-log offset order, each only once the file system has made
// its bytes durable.
func TestCommitLogCompletionsAnsweredInOffsetOrderAfterCoveringFlush(t *testing.T) {
	g := openGated(t, nil)
	const writers, each = 8, 25
	a := newAnswers(1 + writers*each)
	g.gated.Store(true)
	if _, later := g.s.PutMessagesThen([]*message.Message{newMsg("C", 0, "first", nil)}, a.callback(g)); !later {
		t.Fatal("a SYNC_FLUSH write with its msync pending was not deferred")
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := newMsg("C", int32(w%4), fmt.Sprintf("%d-%d", w, i), nil)
				if _, later := g.s.PutMessagesThen([]*message.Message{m}, a.callback(g)); !later {
					t.Errorf("writer %d message %d not deferred while the flush is stuck", w, i)
				}
			}
		}()
	}
	wg.Wait()
	if n := a.count(); n != 0 {
		t.Fatalf("%d writes answered while their msync was stuck", n)
	}
	if p := g.s.PendingFlushes(); p != 1+writers*each {
		t.Fatalf("%d completions pending, want %d", p, 1+writers*each)
	}
	callsBefore, _ := g.fsys.snapshot()
	g.release()
	got := a.wait(t)
	calls, _ := g.fsys.snapshot()
	for i, r := range got {
		if r.res.Status != PutOK || r.res.Err != nil {
			t.Fatalf("answer %d: %+v", i, r.res)
		}
		if r.durable < r.res.EndOffset || r.flushed < r.res.EndOffset {
			t.Fatalf("answer %d (end %d) came when the log was msync'd to %d (store: %d)", i, r.res.EndOffset, r.durable, r.flushed)
		}
		if i > 0 && r.res.EndOffset <= got[i-1].res.EndOffset {
			t.Fatalf("answer %d ends at %d after answer %d ended at %d: not in offset order", i, r.res.EndOffset, i-1, got[i-1].res.EndOffset)
		}
	}
	// The stuck msync covered the first write (and any that came before it read the end); one
	// more covers the rest.
	if n := calls - callsBefore; n < 1 || n > 2 {
		t.Fatalf("%d msync calls answered %d writes, want at most 2", n, len(got))
	}
	if flushes, msgs := g.s.FlushStats(); msgs < int64(len(got)) || flushes == 0 {
		t.Fatalf("flush stats: %d flushes, %d messages, want %d messages", flushes, msgs, len(got))
	}
	if p := g.s.PendingFlushes(); p != 0 {
		t.Fatalf("%d completions still pending", p)
	}
}

// TestCommitLogCompletionTimeoutIsFlushDiskTimeout: a write whose msync does not finish within
// SyncFlushTimeout is answered FlushDiskTimeout (wrapping ErrFlushTimeout) by the ticker, while
// its bytes are still not durable, and no goroutine exists per waiting write.
func TestCommitLogCompletionTimeoutIsFlushDiskTimeout(t *testing.T) {
	g := openGated(t, func(c *Config) { c.SyncFlushTimeout = 50 * time.Millisecond })
	const n = 300
	a := newAnswers(n)
	g.gated.Store(true)
	before := runtime.NumGoroutine()
	for i := range n {
		if _, later := g.s.PutMessagesThen([]*message.Message{newMsg("T", 0, fmt.Sprint(i), nil)}, a.callback(g)); !later {
			t.Fatalf("write %d not deferred", i)
		}
	}
	if extra := runtime.NumGoroutine() - before; extra > 5 {
		t.Fatalf("%d more goroutines with %d writes waiting for their flush: a goroutine per write", extra, n)
	}
	got := a.wait(t)
	for i, r := range got {
		if r.res.Status != FlushDiskTimeout || !errors.Is(r.res.Err, ErrFlushTimeout) {
			t.Fatalf("answer %d: %+v, want FlushDiskTimeout wrapping ErrFlushTimeout", i, r.res)
		}
		if r.durable >= r.res.EndOffset {
			t.Fatalf("answer %d timed out though msync'd to %d (end %d)", i, r.durable, r.res.EndOffset)
		}
	}
	g.release()
	// The timed-out messages are stored all the same, and the next write is durable again.
	if r := g.s.PutMessage(newMsg("T", 0, "after", nil)); r.Status != PutOK {
		t.Fatalf("write after the stuck flush: %+v", r)
	}
	g.s.WaitDispatched(g.s.MaxPhyOffset(), 5*time.Second)
	if msgs := pullAll(t, g.s, "T", 0); len(msgs) != n+1 {
		t.Fatalf("%d messages stored, want %d", len(msgs), n+1)
	}
}

// TestCommitLogCompletionFlushErrorAnswersOwed: a failed msync answers every owed write with the
// sticky flush error; later writes are refused at once (not deferred).
func TestCommitLogCompletionFlushErrorAnswersOwed(t *testing.T) {
	g := openGated(t, nil)
	const n = 40
	a := newAnswers(n)
	g.gated.Store(true)
	for i := range n {
		if _, later := g.s.PutMessagesThen([]*message.Message{newMsg("E", 0, fmt.Sprint(i), nil)}, a.callback(g)); !later {
			t.Fatalf("write %d not deferred", i)
		}
	}
	eio := error(unix.EIO)
	g.failWith.Store(&eio)
	g.release()
	for i, r := range a.wait(t) {
		if r.res.Status != FlushDiskTimeout || !errors.Is(r.res.Err, ErrFlushFailed) || !errors.Is(r.res.Err, unix.EIO) {
			t.Fatalf("answer %d after a failed msync: %+v, want FlushDiskTimeout wrapping ErrFlushFailed and EIO", i, r.res)
		}
	}
	r, later := g.s.PutMessagesThen([]*message.Message{newMsg("E", 0, "after", nil)}, func(PutResult) {
		t.Error("a write refused after the flush error was answered by a callback too")
	})
	if later || r.Status != ServiceNotAvailable || !errors.Is(r.Err, ErrFlushFailed) {
		t.Fatalf("write after the flush error: deferred=%v %+v", later, r)
	}
	if err := g.s.Close(); err == nil {
		t.Fatal("Close after a flush error reported success")
	}
}

// TestCommitLogCloseAnswersOwedCompletions: Close answers every write still owed before it
// returns (here its last flush covers them: PutOK), and the store's goroutines are gone after.
func TestCommitLogCloseAnswersOwedCompletions(t *testing.T) {
	base := runtime.NumGoroutine()
	g := openGated(t, nil)
	const n = 50
	a := newAnswers(n)
	g.gated.Store(true)
	for i := range n {
		if _, later := g.s.PutMessagesThen([]*message.Message{newMsg("X", 0, fmt.Sprint(i), nil)}, a.callback(g)); !later {
			t.Fatalf("write %d not deferred", i)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- g.s.Close() }()
	g.release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := a.count(); got != n {
		t.Fatalf("Close returned with %d of %d owed writes answered", got, n)
	}
	for i, r := range a.wait(t) {
		if r.res.Status != PutOK || r.durable < r.res.EndOffset {
			t.Fatalf("answer %d at Close: %+v (msync'd to %d)", i, r.res, r.durable)
		}
	}
	if deferred, err := g.s.AfterFlush(g.s.MaxPhyOffset()+1, 1, func(error) { t.Error("callback after Close") }); deferred || !errors.Is(err, ErrClosed) {
		t.Fatalf("AfterFlush after Close: deferred=%v err=%v, want ErrClosed", deferred, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines after Close, %d before Open: a store goroutine leaked", n, base)
	}
}

// TestCommitLogAfterFlushOfDurableBytesIsImmediate: nothing is deferred for bytes already
// durable, and WAIT=false (map or property string) is not deferred either.
func TestCommitLogAfterFlushOfDurableBytesIsImmediate(t *testing.T) {
	g := openGated(t, nil)
	if r := g.s.PutMessage(newMsg("D", 0, "one", nil)); r.Status != PutOK {
		t.Fatal(r)
	}
	if deferred, err := g.s.AfterFlush(g.s.FlushedOffset(), 1, func(error) { t.Error("called") }); deferred || err != nil {
		t.Fatalf("AfterFlush of durable bytes: deferred=%v err=%v", deferred, err)
	}
	noWait := newMsg("D", 0, "no wait", map[string]string{message.PropertyWait: "false"})
	text := newMsg("D", 0, "no wait text", nil)
	text.Properties, text.PropertiesText = nil, message.FormatProperties(map[string]string{message.PropertyWait: "false"})
	g.gated.Store(true)
	for _, m := range []*message.Message{noWait, text} {
		if r, later := g.s.PutMessagesThen([]*message.Message{m}, func(PutResult) { t.Error("called") }); later || r.Status != PutOK {
			t.Fatalf("WAIT=false write %q: deferred=%v %+v", m.Body, later, r)
		}
	}
}

// TestCommitLogTruncateAnswersCutCompletions: a write still owed when TruncateTo cuts its records
// is answered with ErrTruncated, and records appended later past its end offset do not answer it
// again as durable.
func TestCommitLogTruncateAnswersCutCompletions(t *testing.T) {
	g := openGated(t, nil)
	var rs []PutResult
	for i := range 3 {
		r := g.s.PutMessage(newMsg("Tr", 0, fmt.Sprint(i), nil))
		if r.Status != PutOK {
			t.Fatal(r)
		}
		rs = append(rs, r)
	}
	var mu sync.Mutex
	var got []error
	// A write whose records would end just past the log's end: not durable yet.
	deferred, err := g.s.AfterFlush(rs[2].EndOffset+1, 1, func(err error) {
		mu.Lock()
		got = append(got, err)
		mu.Unlock()
	})
	if !deferred || err != nil {
		t.Fatalf("AfterFlush past the end: deferred=%v err=%v", deferred, err)
	}
	if err := g.s.TruncateTo(rs[1].CommitLogOffset); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if r := g.s.PutMessage(newMsg("Tr", 0, fmt.Sprint("after-", i), nil)); r.Status != PutOK {
			t.Fatal(r)
		}
	}
	waitUntil := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(waitUntil) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !errors.Is(got[0], ErrTruncated) {
		t.Fatalf("answers to the cut write: %v, want one ErrTruncated", got)
	}
}
