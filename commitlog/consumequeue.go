package commitlog

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
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
type consumeQueue struct {
	topic    string
	queueID  int32
	dir      string
	fileSize int64

	mu        sync.RWMutex
	segs      []*segment
	minOffset int64 // first valid entry index
	maxOffset int64 // next entry index to write
	maxPhyEnd int64 // phyOffset+size of the last entry
	flushedTo int64 // byte offset flushed
	closed    bool  // closed or deleted: puts are dropped
}

func cqDir(root, topic string, queueID int32) string {
	return filepath.Join(root, "consumequeue", topic, strconv.Itoa(int(queueID)))
}

// openConsumeQueue loads a queue's files and finds its end: the first entry that is not valid.
func openConsumeQueue(root, topic string, queueID int32, fileSize int64) (*consumeQueue, error) {
	q := &consumeQueue{topic: topic, queueID: queueID, dir: cqDir(root, topic, queueID), fileSize: fileSize}
	starts, err := listSegments(q.dir)
	if err != nil {
		return nil, err
	}
	for i, st := range starts {
		if i > 0 && st != starts[i-1]+fileSize {
			return nil, fmt.Errorf("commitlog: consume queue %s has a gap before %s", q.dir, segmentName(st))
		}
		s, err := openSegment(q.dir, st, fileSize)
		if err != nil {
			return nil, err
		}
		q.segs = append(q.segs, s)
	}
	if len(q.segs) == 0 {
		return q, nil
	}
	first := q.segs[0].start / cqEntrySize
	q.minOffset, q.maxOffset = first, first
	for idx := first; ; idx++ {
		phy, size, _, ok := q.entryLocked(idx)
		if !ok || size <= 0 || phy < 0 {
			break
		}
		if size == fillerSize {
			q.minOffset = idx + 1
		} else {
			q.maxPhyEnd = phy + int64(size)
		}
		q.maxOffset = idx + 1
	}
	q.flushedTo = q.maxOffset * cqEntrySize
	// Zero anything after the end so a torn tail can never be read as entries.
	q.zeroFromLocked(q.maxOffset)
	return q, nil
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
	if idx < q.maxOffset || q.closed {
		return nil
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
		if err := os.MkdirAll(q.dir, 0o755); err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
		s, err := openSegment(q.dir, start, q.fileSize)
		if err != nil {
			return err
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

// truncateAbove drops entries that point at or past phyEnd (commit-log bytes lost in a crash).
func (q *consumeQueue) truncateAbove(phyEnd int64) {
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
	q.zeroFromLocked(q.maxOffset)
}

func (q *consumeQueue) zeroFromLocked(idx int64) {
	pos := idx * cqEntrySize
	for _, s := range q.segs {
		if pos >= s.start+s.size {
			continue
		}
		from := max(pos-s.start, 0)
		clear(s.data[from:])
	}
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
