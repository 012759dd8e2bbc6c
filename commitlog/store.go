package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffmq/skiff/commitlog/vfs"
	"github.com/skiffmq/skiff/internal/message"
)

// Sentinel errors.
var (
	ErrClosed       = errors.New("commitlog: store is closed")
	ErrNotWriteable = errors.New("commitlog: store is not writeable")
	ErrNotFound     = errors.New("commitlog: no message at that offset")
	ErrCorrupt      = errors.New("commitlog: corrupt record")
	// ErrFlushFailed wraps the first failed msync/fsync. It sticks: the store refuses every later
	// write and SYNC_FLUSH wait until it is reopened (the kernel may have dropped the dirty pages,
	// so a later flush that succeeds proves nothing — "fsyncgate").
	ErrFlushFailed = errors.New("commitlog: flush failed; the store refuses writes until it is restarted and recovered")
	// ErrFlushTimeout is the detail of a FlushDiskTimeout result: the flush did not finish within
	// SyncFlushTimeout (the message is stored but not yet known to be durable).
	ErrFlushTimeout = errors.New("commitlog: flush did not finish in time")
)

// scheduleTopic is the delay-level topic; its consume-queue tag code is the delivery time.
const scheduleTopic = "SCHEDULE_TOPIC_XXXX"

type queueKey struct {
	topic   string
	queueID int32
}

// Store is the broker's storage engine: the commit log, consume queues, an index by key, flush
// (background or group commit) and recovery.
//
// Concurrency: appends are serialized by appendMu (model b); the end of written data is published
// with the atomic wrote, and readers only read below it (the race detector cannot see mmap'd
// memory). The dispatcher goroutine (model a) is the only writer of consume queues and the index;
// it holds dispatchMu while it dispatches. segMu guards the segment slice (appends add segments;
// readers look them up).
//
// Lock order: appendMu → newSegMu → segMu; appendMu → dispatchMu → segMu; dispatchMu → cqMu → consumeQueue.mu; keyIndex.mu is
// taken alone (under dispatchMu); appendMu → dispatchMu → flushRun → segMu / flushMu / ckptMu
// (TruncateTo; a flush pass takes flushRun first); flushMu and ckptMu are leaves.
type Store struct {
	cfg    Config
	fs     vfs.FS
	log    *slog.Logger
	dir    string
	levels []int64

	dispatchMu sync.Mutex
	topicNames map[string]string // interned topics of dispatched records (under dispatchMu)
	ckptMu     sync.Mutex        // serializes checkpoint writes (flush pass, TruncateTo, Close)

	appendMu     sync.Mutex
	writePos     int64               // next byte to write (under appendMu)
	queueOffsets map[queueKey]*int64 // next queue offset per queue (under appendMu; setQueueOffset)

	segMu sync.RWMutex
	segs  []*segment

	wrote      atomic.Int64 // end of complete records, published after each append
	flushed    atomic.Int64 // durable end
	dispatched atomic.Int64 // end of dispatched records
	minPhy     atomic.Int64

	cqMu sync.RWMutex
	cqs  map[queueKey]*consumeQueue

	idx *keyIndex

	writeable   atomic.Bool
	lastErr     atomic.Value          // error
	flushErr    atomic.Pointer[error] // the first failed msync/fsync (sticky)
	flushErrs   atomic.Int64          // failed flush calls
	onDispatch  atomic.Value          // func(string, int32, int64, int64)
	lastStoreTs atomic.Int64          // store time of the last appended record
	lastDispTs  atomic.Int64          // store time of the last dispatched record
	recovery    RecoveryStats         // what Open did (read-only after Open)
	damaged     map[queueKey]bool     // queues found damaged during recovery (under dispatchMu)
	probing     atomic.Bool           // a probe for free space runs
	replica     atomic.Bool           // AppendCommitLog was used: the written end may fall inside a record

	flushMu       sync.Mutex
	flushRun      sync.Mutex        // one flush pass at a time, never during TruncateTo (a pass must not publish an end TruncateTo cut)
	pending       []completion      // SYNC_FLUSH writes waiting for their msync, by end offset (complete.go)
	ready         []readyCompletion // released, waiting for the answering goroutine
	answersClosed bool              // Close answered the last completions: no new ones
	wakeAnswer    chan struct{}
	epoch         time.Time    // monotonic base of completion deadlines
	flushCount    atomic.Int64 // number of group-commit flushes
	lastFlushNs   atomic.Int64 // duration of the last msync pass
	flushedMsgs   atomic.Int64 // messages acknowledged by those flushes
	flushedTs     atomic.Int64 // store time of the last flushed record

	wakeFlush    chan struct{}
	wakeDispatch chan struct{}
	wakeWarm     chan struct{} // the pre-fault loop (warm.go)
	warmed       atomic.Int64  // end of the pre-faulted range
	warmFailed   atomic.Bool   // madvise(MADV_POPULATE_WRITE) is not available
	prefault     prefaultMeter // what pre-faulting (commit log and consume queues) cost
	newSegMu     sync.Mutex    // serializes segment creation (writer and warm loop); taken before segMu
	done         chan struct{}
	wg           sync.WaitGroup
	closed       atomic.Bool
	ckpt         *checkpoint

	diskUsage func() float64 // disk-use override for tests; nil reads the file system
}

// RecoveryStats says what Open did to recover.
type RecoveryStats struct {
	Crashed           bool          // the last run did not stop cleanly (or no valid checkpoint)
	VerifiedBytes     int64         // commit-log bytes read and CRC-checked
	RedispatchedBytes int64         // commit-log bytes dispatched again into consume queues/index
	ZeroedBytes       int64         // after a crash: bytes from the valid end to the end of the last segment, zeroed (a torn record, if any, was among them)
	RebuiltQueues     int           // consume queues rebuilt from the commit log (damaged files)
	Took              time.Duration // wall time of recovery
}

// Open opens (or creates) a store, recovering after a crash, and starts the flush and dispatch
// goroutines. It logs what it recovered and how long it took.
func Open(cfg Config) (*Store, error) {
	if cfg.StorePathRootDir == "" {
		return nil, errors.New("commitlog: StorePathRootDir is empty")
	}
	cfg.fillDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		cfg: cfg, fs: cfg.FS, log: log.With("component", "store"), dir: cfg.StorePathCommitLog,
		levels:       delayLevels(cfg.MessageDelayLevel),
		queueOffsets: map[queueKey]*int64{}, cqs: map[queueKey]*consumeQueue{},
		wakeFlush: make(chan struct{}, 1), wakeDispatch: make(chan struct{}, 1), wakeWarm: make(chan struct{}, 1), done: make(chan struct{}),
		wakeAnswer: make(chan struct{}, 1), epoch: time.Now(),
	}
	s.onDispatch.Store(func(string, int32, int64, int64) {})
	if err := s.fs.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	idx, err := openKeyIndex(s.fs, cfg.StorePathRootDir, cfg.MaxHashSlotNum, cfg.MaxIndexNum, s.log, cfg.Clock)
	if err != nil {
		return nil, err
	}
	s.idx = idx
	if cfg.WarmMappedFile {
		idx.prefault = &s.prefault
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.writeable.Store(true)
	s.wg.Add(5)
	go s.completeLoop()
	go s.cleanLoop()
	go s.flushLoop()
	go s.dispatchLoop()
	go s.cqFlushLoop()
	if cfg.WarmMappedFile {
		s.wg.Add(1)
		go s.warmLoop()
		s.wakeWarmer(s.wrote.Load())
	}
	return s, nil
}

// OnDispatch sets the function called after each consume-queue entry is written (long polling).
// It runs on the dispatcher goroutine and must not block.
func (s *Store) OnDispatch(fn func(topic string, queueID int32, queueOffset, tagsCode int64)) {
	if fn == nil {
		fn = func(string, int32, int64, int64) {}
	}
	s.onDispatch.Store(fn)
}

// segmentFor returns the segment holding physical offset off.
func (s *Store) segmentFor(off int64) *segment {
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	return s.segmentForLocked(off)
}

// segmentForLocked is segmentFor with segMu held.
func (s *Store) segmentForLocked(off int64) *segment {
	if len(s.segs) == 0 || off < s.segs[0].start {
		return nil
	}
	i := (off - s.segs[0].start) / s.cfg.MappedFileSizeCommitLog
	if i >= int64(len(s.segs)) {
		return nil
	}
	return s.segs[i]
}

// PutMessage appends one message. It assigns QueueOffset, CommitLogOffset and StoreTimestamp on m.
func (s *Store) PutMessage(m *message.Message) PutResult {
	one := [1]*message.Message{m} // does not escape: no slice allocated per message
	return s.PutMessages(one[:])
}

// PutMessages appends messages (a batch: consecutive queue offsets when they share a queue).
// With SYNC_FLUSH it returns after the bytes are durable, unless the first message has WAIT=false
// (PutMessagesThen is the same without blocking the caller).
func (s *Store) PutMessages(msgs []*message.Message) PutResult {
	res, wait := s.put(msgs)
	if !wait {
		return res
	}
	return s.waitFlush(res)
}

// waitFlush blocks until the completion of a stored SYNC_FLUSH write ends (PutMessages; kept out
// of line so that the channel and the callback are allocated only for a write that waits).
func (s *Store) waitFlush(res PutResult) PutResult {
	ch := make(chan PutResult, 1)
	if r, deferred := s.afterPut(res, func(r PutResult) { ch <- r }); !deferred {
		return r
	}
	return <-ch
}

// put appends msgs; wait reports that the write was stored under SYNC_FLUSH with WAIT not
// false, so its answer must wait for the msync covering res.EndOffset.
func (s *Store) put(msgs []*message.Message) (res PutResult, wait bool) {
	if len(msgs) == 0 {
		return PutResult{Status: MessageIllegal, Err: errors.New("commitlog: empty batch")}, false
	}
	if s.closed.Load() {
		return PutResult{Status: ServiceNotAvailable, Err: ErrClosed}, false
	}
	if err := s.Err(); err != nil {
		return PutResult{Status: ServiceNotAvailable, Err: fmt.Errorf("%w: %w", ErrNotWriteable, err)}, false
	}
	// One message (every single send) uses these arrays on the stack; a batch allocates.
	var props1 [1]string
	var sizes1 [1]int
	props, sizes := props1[:], sizes1[:]
	if len(msgs) > 1 {
		props, sizes = make([]string, len(msgs)), make([]int, len(msgs))
	}
	total := int64(0)
	for i, m := range msgs {
		if len(m.Body) > s.cfg.MaxMessageSize {
			return PutResult{Status: MessageIllegal, Err: fmt.Errorf("commitlog: body of %d bytes exceeds maxMessageSize %d", len(m.Body), s.cfg.MaxMessageSize)}, false
		}
		props[i] = m.EncodedProperties()
		n, err := m.SizeWithProperties(props[i])
		if err != nil {
			if len(props[i]) > message.MaxPropertiesLength {
				return PutResult{Status: PropertiesSizeExceeded, Err: err}, false
			}
			return PutResult{Status: MessageIllegal, Err: err}, false
		}
		if strings.IndexByte(props[i], 0) >= 0 || strings.IndexByte(m.Topic, 0) >= 0 {
			// Crash recovery reads a NUL there as a page that never reached the disk (checkNotTorn).
			return PutResult{Status: MessageIllegal, Err: fmt.Errorf("commitlog: topic %q or the properties of a message hold a NUL byte", m.Topic)}, false
		}
		sizes[i] = n
		total += int64(n)
	}
	if total+8 > s.cfg.MappedFileSizeCommitLog {
		// A batch never straddles segments and a segment always keeps room for a blank.
		return PutResult{Status: MessageIllegal, Err: fmt.Errorf("commitlog: %d bytes of records do not fit a %d-byte segment", total, s.cfg.MappedFileSizeCommitLog)}, false
	}
	res, err := s.append(msgs, props, sizes, total)
	if err != nil {
		return res, false
	}
	select {
	case s.wakeDispatch <- struct{}{}:
	default:
	}
	s.wakeWarmer(res.EndOffset)
	if s.cfg.FlushDiskType == AsyncFlush && res.EndOffset-s.flushed.Load() >= asyncFlushDirtyBytes {
		select {
		case s.wakeFlush <- struct{}{}:
		default:
		}
	}
	if s.cfg.FlushDiskType != SyncFlush {
		return res, false
	}
	if waitRequested(msgs) {
		return res, true // the caller registers a completion, which wakes the flusher
	}
	select {
	case s.wakeFlush <- struct{}{}:
	default:
	}
	return res, false
}

// Err is why the store refuses writes (nil when it accepts them): the sticky flush error, or a
// write error (disk full) that clears once a probe finds space again.
func (s *Store) Err() error {
	if p := s.flushErr.Load(); p != nil {
		return *p
	}
	if !s.writeable.Load() {
		err, _ := s.lastErr.Load().(error)
		if err == nil {
			err = ErrNotWriteable
		}
		return err
	}
	return nil
}

// FlushError is the sticky flush error (nil when every flush succeeded): once set, the store
// refuses writes until it is reopened. The broker reports it in /readyz.
func (s *Store) FlushError() error {
	if p := s.flushErr.Load(); p != nil {
		return *p
	}
	return nil
}

// failFlush records the first flush error (later ones are only counted), makes the store refuse
// writes and fails every waiting SYNC_FLUSH send.
func (s *Store) failFlush(err error) {
	s.flushErrs.Add(1)
	wrapped := fmt.Errorf("%w: %w", ErrFlushFailed, err)
	if s.flushErr.CompareAndSwap(nil, &wrapped) {
		s.log.Error("flush failed; the store refuses writes until it is restarted", "err", err)
	}
	s.flushMu.Lock()
	s.failPendingLocked(*s.flushErr.Load())
	s.flushMu.Unlock()
	s.wakeAnswerer()
}

// append writes a batch under appendMu. The batch is one contiguous run of records inside one
// segment (a blank fills the rest of the current segment when it does not fit), and nothing of
// it is published (wrote, queue offsets) unless every record was written.
func (s *Store) append(msgs []*message.Message, props []string, sizes []int, total int64) (PutResult, error) {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	now := s.cfg.Clock().UnixMilli()
	res := PutResult{Status: PutOK, MsgCount: len(msgs), StoreTimestamp: now}
	segSize := s.cfg.MappedFileSizeCommitLog
	pos := s.writePos
	if room := segSize - pos%segSize; total+8 > room {
		// Mark the rest of this segment blank and continue in the next one. The blank lies past
		// the published end until the next segment exists, so a failure below leaves no trace.
		if seg := s.segmentFor(pos); seg != nil {
			b := seg.data[pos-seg.start:]
			binary.BigEndian.PutUint32(b, uint32(room))
			magic := message.BlankMagicCode
			binary.BigEndian.PutUint32(b[4:], uint32(magic))
		}
		pos += room
	}
	seg, err := s.segmentForWrite(pos)
	if err != nil {
		s.markNotWriteable(err)
		res.Status, res.Err = CreateMappedFileFailed, err
		return res, err
	}
	// Queue offsets are assigned here, under the append lock, and committed only on success.
	// A single message (every plain send) keeps its one counter on the stack; a batch uses
	// more slots only for the queues it spans (usually one).
	var slots [1]assignedOffset
	next := slots[:0]
	at := pos
	for i, m := range msgs {
		size := int64(sizes[i])
		tran := m.SysFlag & message.TransactionMask
		if tran == message.TransactionPrepared || tran == message.TransactionRollback {
			m.QueueOffset = 0
		} else {
			j := 0
			for j < len(next) && (next[j].k.queueID != m.QueueID || next[j].k.topic != m.Topic) {
				j++
			}
			if j == len(next) {
				k := queueKey{m.Topic, m.QueueID}
				ctr := s.queueOffsets[k]
				if ctr == nil {
					// A new queue's counter starts at 0, what a missing entry means anyway, so
					// adding it before the batch is known to succeed changes nothing. The key
					// keeps its own copy of the topic: a caller's may alias a request frame.
					ctr = new(int64)
					s.queueOffsets[queueKey{strings.Clone(m.Topic), m.QueueID}] = ctr
				}
				next = append(next, assignedOffset{k: k, ctr: ctr, next: *ctr})
			}
			m.QueueOffset = next[j].next
			next[j].next++
		}
		m.CommitLogOffset = at
		m.StoreTimestamp = now
		if _, err := m.EncodeWithProperties(seg.data[at-seg.start:at-seg.start+size], props[i]); err != nil {
			res.Status, res.Err = MessageIllegal, err
			return res, err
		}
		if i == 0 {
			res.CommitLogOffset, res.QueueOffset = at, m.QueueOffset
		}
		at += size
	}
	for _, a := range next {
		*a.ctr = a.next
	}
	res.WroteBytes = int(total)
	s.writePos = at
	res.EndOffset = at
	s.lastStoreTs.Store(now)
	s.wrote.Store(at)
	return res, nil
}

// assignedOffset is a queue's next offset while append assigns a batch's offsets.
type assignedOffset struct {
	k    queueKey
	ctr  *int64 // the queue's counter in queueOffsets, written when the batch is stored
	next int64
}

// setQueueOffset sets the next queue offset of k (appendMu held, or the store not yet serving).
func (s *Store) setQueueOffset(k queueKey, next int64) {
	if ctr := s.queueOffsets[k]; ctr != nil {
		*ctr = next
		return
	}
	s.queueOffsets[k] = &next
}

// segmentForWrite returns the segment for pos, creating it (and its file) when needed.
func (s *Store) segmentForWrite(pos int64) (*segment, error) {
	if seg := s.segmentFor(pos); seg != nil {
		return seg, nil
	}
	return s.createSegment(pos)
}

func (s *Store) markNotWriteable(err error) {
	s.lastErr.Store(err)
	if s.writeable.Swap(false) {
		s.log.Error("store is not writeable", "err", err)
	}
	if s.probing.CompareAndSwap(false, true) {
		s.wg.Add(1)
		go s.probeWriteable()
	}
}

// probeInterval is how often a store that hit a write error (disk full) probes for space.
var probeInterval = time.Second

// probeWriteable preallocates a probe file of one segment every probeInterval until that
// succeeds, then accepts writes again. A flush error is never cleared this way.
func (s *Store) probeWriteable() {
	defer s.wg.Done()
	defer s.probing.Store(false)
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		probe := filepath.Join(s.dir, ".probe")
		f, err := s.fs.OpenFile(probe, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err == nil {
			err = f.Allocate(0, s.cfg.MappedFileSizeCommitLog)
			f.Close()
		}
		_ = s.fs.Remove(probe)
		if err == nil || errors.Is(err, vfs.ErrUnsupported) {
			s.writeable.Store(true)
			s.log.Info("store is writeable again")
			return
		}
	}
}

// asyncFlushDirtyBytes wakes the ASYNC_FLUSH flusher before its interval when this much is dirty.
const asyncFlushDirtyBytes = 64 << 20

// flushLoop makes written bytes durable: with SYNC_FLUSH as soon as writers wait (one msync
// covers every waiter: group commit); with ASYNC_FLUSH every FlushIntervalCommitLog when at
// least FlushCommitLogLeastPages pages are dirty, every FlushCommitLogThoroughInterval whatever
// is dirty, and at once when asyncFlushDirtyBytes accumulate.
func (s *Store) flushLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.FlushIntervalCommitLog)
	defer t.Stop()
	lastThorough := time.Now()
	least := int64(max(s.cfg.FlushCommitLogLeastPages, 0)) * int64(os.Getpagesize())
	for {
		woken := false
		select {
		case <-s.done:
			return
		case <-s.wakeFlush:
			woken = true
		case <-t.C:
		}
		if !woken && s.cfg.FlushDiskType == AsyncFlush {
			dirty := s.wrote.Load() - s.flushed.Load()
			thorough := time.Since(lastThorough) >= s.cfg.FlushCommitLogThoroughInterval
			if dirty < least && !thorough {
				continue
			}
			if thorough {
				lastThorough = time.Now()
			}
		}
		_ = s.flush() // a failure is recorded by flush (sticky)
	}
}

// flush msyncs [flushed, wrote) and releases the waiters it covers. After a failure nothing is
// flushed any more and the durable end never advances (the first error sticks).
func (s *Store) flush() error {
	s.flushRun.Lock()
	defer s.flushRun.Unlock()
	if err := s.FlushError(); err != nil {
		return err
	}
	end := s.wrote.Load()
	ts := s.lastStoreTs.Load()
	from := s.flushed.Load()
	if s.cfg.ackBeforeFlush {
		s.releaseFlushed(end) // broken on purpose (tests): answered before the msync
	}
	if end > from {
		t0 := time.Now()
		s.segMu.RLock()
		segs := append([]*segment(nil), s.segs...)
		s.segMu.RUnlock()
		for _, seg := range segs {
			lo, hi := max(from, seg.start), min(end, seg.start+seg.size)
			if hi > lo {
				if err := seg.flushRange(lo-seg.start, hi-seg.start); err != nil {
					s.failFlush(err)
					return err
				}
			}
		}
		d := time.Since(t0)
		s.lastFlushNs.Store(int64(d))
		if s.cfg.OnFlush != nil {
			s.cfg.OnFlush(d)
		}
		s.flushedTs.Store(ts)
		s.flushed.Store(end)
		s.flushCount.Add(1)
	}
	if s.releaseFlushed(end) {
		select {
		case s.wakeFlush <- struct{}{}:
		default:
		}
	}
	return nil
}

// FlushStats reports how many group-commit flushes ran and how many waiting messages they
// acknowledged (for the messages-per-flush benchmark figure).
func (s *Store) FlushStats() (flushes, msgs int64) { return s.flushCount.Load(), s.flushedMsgs.Load() }

// dispatchLoop builds consume queues and the key index from the commit log.
func (s *Store) dispatchLoop() {
	defer s.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.wakeDispatch:
		case <-t.C:
		}
		if err := s.dispatch(s.wrote.Load()); err != nil {
			s.log.Error("dispatch failed", "offset", s.dispatched.Load(), "err", err)
			if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
				// No room for a consume-queue file: refuse appends until space returns.
				s.markNotWriteable(err)
			}
		}
	}
}

// dispatch dispatches every complete record below end under dispatchMu.
func (s *Store) dispatch(end int64) error {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	return s.dispatchUpTo(end)
}

// dispatchUpTo dispatches every complete record below end; dispatchMu must be held.
func (s *Store) dispatchUpTo(end int64) error {
	off := s.dispatched.Load()
	cb := s.onDispatch.Load().(func(string, int32, int64, int64))
	for off < end {
		seg := s.segmentFor(off)
		if seg == nil {
			return fmt.Errorf("commitlog: no segment for offset %d", off)
		}
		b := seg.data[off-seg.start : min(end, seg.start+seg.size)-seg.start]
		size, err := message.RecordSize(b)
		if errors.Is(err, message.ErrBlank) {
			off = seg.start + seg.size
			s.dispatched.Store(off)
			continue
		}
		if errors.Is(err, message.ErrShort) || (err == nil && size > len(b)) {
			return nil // a record still arriving (replication): wait for the rest
		}
		if err != nil {
			return err
		}
		m, err := message.DecodeMeta(b[:size])
		if err != nil {
			return err
		}
		if err := s.dispatchOne(&m, cb); err != nil {
			return err
		}
		s.lastDispTs.Store(m.StoreTimestamp)
		off += int64(size)
		s.dispatched.Store(off)
	}
	return nil
}

// dispatchOne adds one record to its consume queue and the key index. It reads the record
// without a property map or copies (message.Meta); the topic string is interned per store.
func (s *Store) dispatchOne(m *message.Meta, cb func(string, int32, int64, int64)) error {
	topic := s.topicName(m.Topic)
	tagsText, keys, uniq := m.DispatchProperties()
	tran := m.SysFlag & message.TransactionMask
	if tran == message.TransactionPrepared || tran == message.TransactionRollback {
		if tran == message.TransactionPrepared && s.cfg.MessageIndexEnable {
			s.idx.add(topic, keys, uniq, m.CommitLogOffset, m.StoreTimestamp)
		}
		return nil
	}
	tags := message.TagsCodeBytes(tagsText)
	if topic == scheduleTopic {
		if lvl := int(m.QueueID); lvl >= 0 && lvl < len(s.levels) {
			tags = m.StoreTimestamp + s.levels[lvl]
		}
	}
	q, err := s.queue(topic, m.QueueID, true)
	if err != nil {
		return err
	}
	if s.damaged[queueKey{topic, m.QueueID}] {
		// Rebuilt from the commit log after recovery; only the index is fed here.
	} else if err := q.put(m.QueueOffset, m.CommitLogOffset, m.StoreSize, tags); err != nil {
		if !errors.Is(err, errQueueDamaged) || s.damaged == nil {
			return err
		}
		s.log.Warn("consume queue does not match the commit log; it is rebuilt", "topic", topic, "queueId", m.QueueID, "err", err)
		s.damaged[queueKey{topic, m.QueueID}] = true
	}
	if s.cfg.MessageIndexEnable {
		s.idx.add(topic, keys, uniq, m.CommitLogOffset, m.StoreTimestamp)
	}
	cb(topic, m.QueueID, m.QueueOffset, tags)
	return nil
}

// topicName returns the topic of a record as a string, one allocation per distinct topic
// (dispatchMu must be held; the table is bounded by the topics the store has seen, and a topic
// deleted from the store leaves it on the next open).
func (s *Store) topicName(b []byte) string {
	if t, ok := s.topicNames[string(b)]; ok {
		return t
	}
	if s.topicNames == nil {
		s.topicNames = map[string]string{}
	}
	t := string(b)
	s.topicNames[t] = t
	return t
}

// queue returns the consume queue of a topic/queue id, creating it when create is set.
func (s *Store) queue(topic string, queueID int32, create bool) (*consumeQueue, error) {
	k := queueKey{topic, queueID}
	s.cqMu.RLock()
	q := s.cqs[k]
	s.cqMu.RUnlock()
	if q != nil || !create {
		return q, nil
	}
	s.cqMu.Lock()
	defer s.cqMu.Unlock()
	if q = s.cqs[k]; q == nil {
		k.topic = strings.Clone(topic) // kept as a map key: never an alias of a frame or a mapping
		q = newConsumeQueue(s.fs, s.cfg.StorePathRootDir, k.topic, queueID, s.cfg.MappedFileSizeConsumeQueue).withWarm(s.cfg.WarmMappedFile, &s.prefault)
		s.cqs[k] = q
	}
	return q, nil
}

// cqFlushLoop flushes consume queues and then records the dispatched offset in the checkpoint:
// after a crash, dispatch resumes from there (entries are idempotent).
func (s *Store) cqFlushLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.FlushIntervalConsumeQueue)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if err := s.flushQueues(); err != nil {
				s.log.Error("consume queue flush failed", "err", err)
			}
		}
	}
}

// flushQueues makes consume queues and the index durable and then writes the checkpoint: after
// a crash, recovery verifies and re-dispatches only what lies past it. A failure is sticky.
func (s *Store) flushQueues() error {
	if err := s.FlushError(); err != nil {
		return err
	}
	dispatched := s.dispatched.Load()
	dispTs := s.lastDispTs.Load()
	s.cqMu.RLock()
	qs := make([]*consumeQueue, 0, len(s.cqs))
	for _, q := range s.cqs {
		qs = append(qs, q)
	}
	s.cqMu.RUnlock()
	for _, q := range qs {
		if err := q.flush(); err != nil {
			s.failFlush(err)
			return err
		}
	}
	if s.cfg.MessageIndexEnable {
		if err := s.idx.flush(); err != nil {
			s.failFlush(err)
			return err
		}
	}
	return s.saveCheckpoint(min(dispatched, s.flushed.Load()), dispTs, false)
}

// saveCheckpoint writes the checkpoint: the commit log is durable below the flushed offset, the
// consume queues and the index below durable (a record boundary not past it).
func (s *Store) saveCheckpoint(durable, dispTs int64, clean bool) error {
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	if err := s.FlushError(); err != nil {
		return err
	}
	flushed := s.flushed.Load()
	if s.replica.Load() {
		// Replicated bytes may end inside a record: the checkpoint's flushed offset must be a
		// record boundary (recovery treats a bad record before it as corruption), so it stops at
		// the end of the records dispatched so far.
		flushed = min(flushed, max(s.dispatched.Load(), s.minPhy.Load()))
	}
	st := checkpointState{
		PhysicTs: s.flushedTs.Load(), LogicsTs: dispTs, IndexTs: dispTs,
		Flushed: flushed, ConsumeQueue: min(durable, flushed), Index: min(durable, flushed),
		MinPhys: min(s.minPhy.Load(), flushed), Clean: clean,
	}
	if err := s.ckpt.save(st); err != nil {
		s.failFlush(err)
		return err
	}
	return nil
}

// MaxPhyOffset is the end of the written commit log.
func (s *Store) MaxPhyOffset() int64 { return s.wrote.Load() }

// MinPhyOffset is the first commit-log offset still stored.
func (s *Store) MinPhyOffset() int64 { return s.minPhy.Load() }

// FlushedOffset is the durable end of the commit log.
func (s *Store) FlushedOffset() int64 { return s.flushed.Load() }

// DispatchedOffset is the end of the records whose consume-queue entries are written.
func (s *Store) DispatchedOffset() int64 { return s.dispatched.Load() }

// Writeable reports whether appends are accepted.
func (s *Store) Writeable() bool {
	return s.writeable.Load() && s.flushErr.Load() == nil && !s.closed.Load()
}

// WaitDispatched waits until every record below off is dispatched (tests, slaves).
func (s *Store) WaitDispatched(off int64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for s.dispatched.Load() < off {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case s.wakeDispatch <- struct{}{}:
		default:
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// Close flushes everything, writes a clean checkpoint, removes the abort marker and unmaps
// files. After a flush error it writes nothing: the next Open recovers from the last good
// checkpoint.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.done)
	s.wg.Wait()
	var errs []error
	if err := s.dispatch(s.wrote.Load()); err != nil {
		errs = append(errs, err)
	}
	if err := s.flush(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := s.flushQueues(); err != nil {
			errs = append(errs, err)
		}
	}
	clean := len(errs) == 0 && s.dispatched.Load() == s.flushed.Load() && s.flushed.Load() == s.wrote.Load()
	if clean {
		ends := map[queueKey]int64{}
		s.cqMu.RLock()
		for k, q := range s.cqs {
			if _, hi := q.offsets(); hi > 0 {
				ends[k] = hi
			}
		}
		s.cqMu.RUnlock()
		// The hint names the clean checkpoint written next (sequence + 1); a failure only costs
		// the next open a search.
		if err := writeCQEnds(s.fs, s.cfg.StorePathRootDir, s.ckpt.last.Seq+1, ends); err != nil {
			s.log.Warn("consume-queue ends not written; the next open searches them", "err", err)
		}
		if err := s.saveCheckpoint(s.dispatched.Load(), s.lastDispTs.Load(), true); err != nil {
			errs = append(errs, err)
			clean = false
		}
	}
	// The answering goroutine has stopped: answer here what the last flush covered (queued by
	// it), then every write still waiting, with ErrClosed.
	s.flushMu.Lock()
	s.answersClosed = true
	s.failPendingLocked(ErrClosed)
	s.flushMu.Unlock()
	s.answerReady(nil)
	s.closeFiles()
	if clean {
		if err := s.fs.Remove(filepath.Join(s.cfg.StorePathRootDir, "abort")); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("commitlog: %w", err))
		}
		_ = s.fs.SyncDir(s.cfg.StorePathRootDir)
	}
	return errors.Join(errs...)
}

func (s *Store) closeFiles() {
	s.segMu.Lock()
	for _, seg := range s.segs {
		_ = seg.close()
	}
	s.segs = nil
	s.segMu.Unlock()
	s.cqMu.Lock()
	for _, q := range s.cqs {
		q.close()
	}
	s.cqMu.Unlock()
	if s.ckpt != nil {
		s.ckpt.close()
	}
	if s.idx != nil {
		s.idx.close()
	}
}

// DeleteTopic removes a topic's consume queues (its commit-log records age out with retention).
func (s *Store) DeleteTopic(topic string) {
	s.cqMu.Lock()
	for k, q := range s.cqs {
		if k.topic == topic {
			q.close()
			delete(s.cqs, k)
		}
	}
	s.cqMu.Unlock()
	_ = s.fs.RemoveAll(filepath.Join(s.cfg.StorePathRootDir, "consumequeue", topic))
	s.appendMu.Lock()
	for k := range s.queueOffsets {
		if k.topic == topic {
			delete(s.queueOffsets, k)
		}
	}
	s.appendMu.Unlock()
}

// Stats is a snapshot of the store's state.
type Stats struct {
	MinPhyOffset, MaxPhyOffset, FlushedOffset, DispatchedOffset int64
	DirtyBytes, DispatchBehindBytes                             int64
	DiskRatio                                                   float64
	EarliestMessageTime                                         int64
	Writeable                                                   bool
	Flushes, FlushedMessages                                    int64
	LastFlushDuration                                           time.Duration
	FlushErrors                                                 int64 // failed msync/fsync calls (the first one sticks)
	Recovery                                                    RecoveryStats
}

// Stats returns a snapshot; it takes no store lock.
func (s *Store) Stats() Stats {
	st := Stats{
		MinPhyOffset: s.minPhy.Load(), MaxPhyOffset: s.wrote.Load(), FlushedOffset: s.flushed.Load(),
		DispatchedOffset: s.dispatched.Load(), Writeable: s.Writeable(),
	}
	st.DirtyBytes = st.MaxPhyOffset - st.FlushedOffset
	st.DispatchBehindBytes = st.MaxPhyOffset - st.DispatchedOffset
	st.Flushes, st.FlushedMessages = s.FlushStats()
	st.DiskRatio = s.diskRatio()
	st.LastFlushDuration = time.Duration(s.lastFlushNs.Load())
	st.FlushErrors = s.flushErrs.Load()
	st.Recovery = s.recovery
	if raw, err := s.LookupMessage(st.MinPhyOffset); err == nil {
		if m, err := message.Decode(raw, false); err == nil {
			st.EarliestMessageTime = m.StoreTimestamp
		}
	}
	return st
}
