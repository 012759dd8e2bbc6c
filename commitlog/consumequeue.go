package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"github.com/skiffmq/skiff/commitlog/vfs"
)

// cqEntrySize is the size of one consume-queue entry (§4.3):
//
//	offset size field
//	     0    8 commit-log physical offset of the message
//	     8    4 message record size (totalSize)
//	    12    8 tag hash code (delivery time for SCHEDULE_TOPIC_XXXX)
const cqEntrySize = 20

// fillerSize marks the filler entries {0, 0x7FFFFFFF, 0} that pad a queue whose first entry is
// not at index 0 (a slave that started mid-stream).
const fillerSize = 0x7FFFFFFF

// consumeQueue is the dense array of entries of one topic and queue id, in segment files named by
// the byte offset of their first entry. Concurrency model (b): mu guards the segment list and the
// offsets; the dispatcher is the only writer.
//
// Invariant: after the last valid entry every byte of the queue's files is zero (entries are
// written in order, and recovery zeroes a torn tail), so after a clean stop the end of a queue is
// found by a binary search in its last file, without reading the queue.
type consumeQueue struct {
	topic    string
	queueID  int32
	dir      string
	fileSize int64
	fs       vfs.FS
	warm     bool           // pre-fault each new file (Config.WarmMappedFile)
	prefault *prefaultMeter // where that pre-faulting's cost is counted (the store's)

	mu        sync.RWMutex
	segs      []*segment
	minOffset int64 // first valid entry index
	maxOffset int64 // next entry index to write
	maxPhyEnd int64 // phyOffset+size of the last entry
	flushedTo int64 // byte offset flushed
	closed    bool  // closed or deleted: puts are dropped
	strict    bool  // recovery: report a gap or a mismatching entry instead of papering over it
}

// errQueueDamaged is returned by put in strict mode when the queue does not agree with the
// commit log (an entry missing before idx, or a different record at idx).
var errQueueDamaged = errors.New("commitlog: consume queue does not match the commit log")

func cqDir(root, topic string, queueID int32) string {
	return filepath.Join(root, "consumequeue", topic, strconv.Itoa(int(queueID)))
}

func newConsumeQueue(fsys vfs.FS, root, topic string, queueID int32, fileSize int64) *consumeQueue {
	return &consumeQueue{topic: topic, queueID: queueID, dir: cqDir(root, topic, queueID), fileSize: fileSize, fs: fsys}
}

// withWarm sets whether new files of q are pre-faulted (Config.WarmMappedFile), counting the cost
// in m, and returns q.
func (q *consumeQueue) withWarm(on bool, m *prefaultMeter) *consumeQueue {
	q.warm, q.prefault = on, m
	return q
}

// openConsumeQueue maps a queue's files and finds its end. After a clean stop (crashed false) the
// end is found by binary search in the last file. After a crash the last file is read from its
// start up to the first entry that is not valid or does not advance in the commit log, and the
// entries of records at or past durablePhy (written after the last checkpoint, possibly torn)
// are dropped and zeroed: re-dispatch writes them again.
//
// hint, when positive, is the end recorded at the last clean stop (cqends.go): it is used when the
// entry before it is valid and the entry at it is not, which touches two entries instead of
// searching.
func openConsumeQueue(fsys vfs.FS, root, topic string, queueID int32, fileSize int64, crashed bool, durablePhy, hint int64) (*consumeQueue, error) {
	q := newConsumeQueue(fsys, root, topic, queueID, fileSize)
	starts, err := listSegments(fsys, q.dir)
	if err != nil {
		return nil, err
	}
	for i, st := range starts {
		if st%cqEntrySize != 0 || (i > 0 && st != starts[i-1]+fileSize) {
			q.close()
			return nil, fmt.Errorf("commitlog: consume queue %s has a gap before %s", q.dir, segmentName(st))
		}
		s, err := openSegment(fsys, q.dir, st, fileSize)
		if err != nil {
			q.close()
			return nil, err
		}
		q.segs = append(q.segs, s)
	}
	if len(q.segs) == 0 {
		return q, nil
	}
	first := q.segs[0].start / cqEntrySize
	q.minOffset, q.maxOffset = first, first
	// Filler entries pad the front of the first file (a queue that starts mid-stream).
	perFile := fileSize / cqEntrySize
	if _, size, _, _ := q.entryLocked(first); size == fillerSize { // rare: skip the search (page faults) otherwise
		q.minOffset = first + q.searchLocked(first, first+perFile, func(i int64) bool {
			_, size, _, ok := q.entryLocked(i)
			return !ok || size != fillerSize
		})
	}
	last := q.segs[len(q.segs)-1].start / cqEntrySize
	valid := func(i int64) bool { // a filler entry {0, fillerSize, 0} is valid anywhere (holes, repaired records)
		phy, size, _, ok := q.entryLocked(i)
		return ok && size > 0 && phy >= 0 && (size != fillerSize || phy == 0)
	}
	if !crashed && hint > q.minOffset && valid(hint-1) && !valid(hint) {
		q.maxOffset = hint
	} else if !crashed {
		q.maxOffset = last + q.searchLocked(last, last+perFile, func(i int64) bool { return !valid(i) })
		if q.maxOffset == last && len(q.segs) > 1 { // an empty last file after a full one
			prev := last - perFile
			q.maxOffset = prev + q.searchLocked(prev, last, func(i int64) bool { return !valid(i) })
		}
	} else {
		// The entries to keep are the durable prefix: valid and ending at or below durablePhy.
		// Find its end by binary search over the last file and check the 256 entries before it
		// (valid, increasing); if that check fails (torn bytes fooled the search), read the file
		// forward instead. Entries written after the checkpoint in the file before the last one
		// are dropped by the walk back below.
		from := max(last, q.minOffset)
		durable := func(i int64) bool {
			phy, size, _, ok := q.entryLocked(i)
			return ok && size > 0 && phy >= 0 && (size == fillerSize && phy == 0 || phy+int64(size) <= durablePhy)
		}
		if b := from + q.searchLocked(from, last+perFile, func(i int64) bool { return !durable(i) }); q.increasingLocked(max(b-256, q.minOffset), b) {
			from = b
		}
		q.maxOffset = from
		prevPhy := int64(-1)
		if from > q.minOffset {
			prevPhy, _, _, _ = q.entryLocked(from - 1)
		}
		for i := from; valid(i); i++ {
			phy, size, _, _ := q.entryLocked(i)
			if size != fillerSize {
				if phy <= prevPhy {
					break
				}
				prevPhy = phy
			}
			q.maxOffset = i + 1
		}
		for q.maxOffset > q.minOffset { // drop entries past the checkpoint, and torn (zero) ones
			phy, size, _, ok := q.entryLocked(q.maxOffset - 1)
			if ok && size > 0 && phy >= 0 && size != fillerSize && phy+int64(size) <= durablePhy {
				break
			}
			q.maxOffset--
		}
		if err := q.zeroFromLocked(q.maxOffset); err != nil {
			q.close()
			return nil, err
		}
	}
	for i := q.maxOffset - 1; i >= q.minOffset; i-- { // the last entry that is not a filler
		if phy, size, _, _ := q.entryLocked(i); size != fillerSize {
			q.maxPhyEnd = phy + int64(size)
			break
		}
	}
	q.flushedTo = q.maxOffset * cqEntrySize
	return q, nil
}

// increasingLocked reports whether entries [lo, hi) are valid and their commit-log offsets
// increase (filler entries are skipped).
func (q *consumeQueue) increasingLocked(lo, hi int64) bool {
	prev := int64(-1)
	for i := lo; i < hi; i++ {
		phy, size, _, ok := q.entryLocked(i)
		if !ok || size <= 0 || phy < 0 {
			return false
		}
		if size == fillerSize {
			continue
		}
		if phy <= prev {
			return false
		}
		prev = phy
	}
	return true
}

// searchLocked returns the smallest n in [0, hi-lo] such that pred(lo+n) holds, assuming pred is
// false and then true over [lo, hi) (sort.Search).
func (q *consumeQueue) searchLocked(lo, hi int64, pred func(int64) bool) int64 {
	return int64(sort.Search(int(hi-lo), func(i int) bool { return pred(lo + int64(i)) }))
}

// entryLocked reads entry idx; ok is false when idx has no file.
func (q *consumeQueue) entryLocked(idx int64) (phy int64, size int32, tags int64, ok bool) {
	pos := idx * cqEntrySize
	if len(q.segs) == 0 || pos < q.segs[0].start {
		return 0, 0, 0, false
	}
	si := (pos - q.segs[0].start) / q.fileSize
	if si >= int64(len(q.segs)) {
		return 0, 0, 0, false
	}
	s := q.segs[si]
	b := s.data[pos-s.start : pos-s.start+cqEntrySize]
	return int64(binary.BigEndian.Uint64(b)), int32(binary.BigEndian.Uint32(b[8:])), int64(binary.BigEndian.Uint64(b[12:])), true
}

func (q *consumeQueue) get(idx int64) (phy int64, size int32, tags int64, ok bool) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if idx < q.minOffset || idx >= q.maxOffset {
		return 0, 0, 0, false
	}
	return q.entryLocked(idx)
}

func (q *consumeQueue) offsets() (minOff, maxOff int64) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.minOffset, q.maxOffset
}

// put writes entry idx. Entries at or below the current end are skipped (dispatch is idempotent);
// a gap before idx (a queue that starts mid-stream) is padded with filler entries.
func (q *consumeQueue) put(idx, phy int64, size int32, tags int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	if idx < q.maxOffset {
		if q.strict && idx >= q.minOffset {
			if have, _, _, ok := q.entryLocked(idx); ok && have != phy {
				return fmt.Errorf("%w: %s/%d entry %d points at %d, the record is at %d", errQueueDamaged, q.topic, q.queueID, idx, have, phy)
			}
		}
		return nil
	}
	if q.strict && idx > q.maxOffset && len(q.segs) > 0 {
		return fmt.Errorf("%w: %s/%d ends at entry %d, the next record has queue offset %d", errQueueDamaged, q.topic, q.queueID, q.maxOffset, idx)
	}
	if q.maxOffset == 0 && len(q.segs) == 0 && idx > 0 {
		q.minOffset, q.maxOffset = idx, idx
		start := idx * cqEntrySize
		start -= start % q.fileSize
		for f := start / cqEntrySize; f < idx; f++ {
			if err := q.writeLocked(f, 0, fillerSize, 0); err != nil {
				return err
			}
		}
	}
	for q.maxOffset < idx { // a hole inside the queue (should not happen): fill it
		if err := q.writeLocked(q.maxOffset, 0, fillerSize, 0); err != nil {
			return err
		}
		q.maxOffset++
	}
	if err := q.writeLocked(idx, phy, size, tags); err != nil {
		return err
	}
	q.maxOffset = idx + 1
	q.maxPhyEnd = phy + int64(size)
	return nil
}

func (q *consumeQueue) writeLocked(idx, phy int64, size int32, tags int64) error {
	pos := idx * cqEntrySize
	start := pos - pos%q.fileSize
	if len(q.segs) == 0 || start > q.segs[len(q.segs)-1].start {
		if err := q.fs.MkdirAll(q.dir, 0o755); err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
		s, err := openSegment(q.fs, q.dir, start, q.fileSize)
		if err != nil {
			return err
		}
		if q.warm {
			// Fault the whole new file in at once (one madvise instead of a trap every 204 entries);
			// this runs on the dispatcher, never on the append path. Best effort: a file system
			// that cannot populate faults pages on first write as before.
			_ = q.prefault.populate(s.data)
		}
		q.segs = append(q.segs, s)
	}
	si := (start - q.segs[0].start) / q.fileSize
	s := q.segs[si]
	b := s.data[pos-s.start : pos-s.start+cqEntrySize]
	binary.BigEndian.PutUint64(b, uint64(phy))
	binary.BigEndian.PutUint32(b[8:], uint32(size))
	binary.BigEndian.PutUint64(b[12:], uint64(tags))
	return nil
}

// truncateAbove drops entries that point at or past phyEnd (commit-log bytes lost in a crash,
// or cut by Store.TruncateTo) and zeroes them durably.
func (q *consumeQueue) truncateAbove(phyEnd int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.maxOffset > q.minOffset {
		phy, size, _, ok := q.entryLocked(q.maxOffset - 1)
		if ok && size != fillerSize && phy+int64(size) <= phyEnd {
			q.maxPhyEnd = phy + int64(size)
			break
		}
		q.maxOffset--
	}
	if q.maxOffset == q.minOffset {
		q.maxPhyEnd = 0
	}
	q.flushedTo = min(q.flushedTo, q.maxOffset*cqEntrySize)
	return q.zeroFromLocked(q.maxOffset)
}

// zeroFromLocked zeroes every entry from idx on, durably, and removes files that then hold
// nothing (never the first one).
func (q *consumeQueue) zeroFromLocked(idx int64) error {
	pos := idx * cqEntrySize
	keep := q.segs[:0]
	for i, s := range q.segs {
		switch {
		case pos >= s.start+s.size:
			keep = append(keep, s)
		case pos <= s.start && i > 0:
			if err := s.remove(q.fs); err != nil {
				return fmt.Errorf("commitlog: remove consume-queue file %s: %w", s.path, err)
			}
		default:
			if err := s.zeroFrom(max(pos-s.start, 0)); err != nil {
				return err
			}
			keep = append(keep, s)
		}
	}
	q.segs = keep
	return nil
}

// flush makes written entries durable.
func (q *consumeQueue) flush() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	end := q.maxOffset * cqEntrySize
	for _, s := range q.segs {
		lo, hi := max(q.flushedTo, s.start), min(end, s.start+s.size)
		if hi > lo {
			if err := s.flushRange(lo-s.start, hi-s.start); err != nil {
				return err
			}
		}
	}
	q.flushedTo = end
	return nil
}

func (q *consumeQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, s := range q.segs {
		_ = s.close()
	}
	q.segs = nil
	q.closed = true
}
