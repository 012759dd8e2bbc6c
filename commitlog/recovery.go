package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/skiffmq/skiff/internal/message"
)

// checkpoint is the 4 KiB checkpoint file. Skiff keeps RocketMQ's first three fields (§4.5) and
// adds, at byte 40, the commit-log offset below which every record is dispatched into durable
// consume queues: recovery re-dispatches from there.
//
//	offset size field
//	     0    8 physicMsgTimestamp (unused by Skiff, kept zero)
//	     8    8 logicsMsgTimestamp (unused)
//	    16    8 indexMsgTimestamp (unused)
//	    40    8 dispatchedOffset (Skiff)
type checkpoint struct {
	f *os.File
}

const checkpointSize = 4096

func openCheckpoint(root string) (*checkpoint, int64, error) {
	f, err := os.OpenFile(filepath.Join(root, "checkpoint"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("commitlog: %w", err)
	}
	var b [48]byte
	n, _ := f.ReadAt(b[:], 0)
	off := int64(0)
	if n == len(b) {
		off = int64(binary.BigEndian.Uint64(b[40:]))
	}
	if st, err := f.Stat(); err == nil && st.Size() < checkpointSize {
		_ = f.Truncate(checkpointSize)
	}
	return &checkpoint{f: f}, off, nil
}

func (c *checkpoint) save(dispatched int64) error {
	if c == nil || c.f == nil {
		return nil
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(dispatched))
	if _, err := c.f.WriteAt(b[:], 40); err != nil {
		return fmt.Errorf("commitlog: write checkpoint: %w", err)
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("commitlog: sync checkpoint: %w", err)
	}
	return nil
}

func (c *checkpoint) close() {
	if c != nil && c.f != nil {
		_ = c.f.Close()
		c.f = nil
	}
}

// recover loads the commit log and consume queues, finds the end of valid data, truncates a torn
// tail and everything that points past it, and re-dispatches from the checkpoint.
//
// Recovery scans from the start of the third-newest segment (RocketMQ's normal recovery): every
// record there is validated (size, magic, CRC when CheckCRCOnRecover). The first invalid record
// ends the log: the rest of its segment is zeroed and later segments are deleted. A bad record
// followed by valid ones is reported as corruption in the log, and still ends the log.
func (s *Store) recover() error {
	start := time.Now()
	root := s.cfg.StorePathRootDir
	abortPath := filepath.Join(root, "abort")
	_, err := os.Stat(abortPath)
	crashed := err == nil
	ckpt, ckptOff, err := openCheckpoint(root)
	if err != nil {
		return err
	}
	s.ckpt = ckpt

	starts, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	for i, st := range starts {
		if st%s.cfg.MappedFileSizeCommitLog != 0 || (i > 0 && st != starts[i-1]+s.cfg.MappedFileSizeCommitLog) {
			return fmt.Errorf("commitlog: segment %s does not follow %s with size %d", segmentName(st), segmentName(starts[max(i-1, 0)]), s.cfg.MappedFileSizeCommitLog)
		}
		seg, err := openSegment(s.dir, st, s.cfg.MappedFileSizeCommitLog)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, seg)
	}
	end := int64(0)
	scanned := 0
	if len(s.segs) > 0 {
		s.minPhy.Store(s.segs[0].start)
		first := max(len(s.segs)-3, 0)
		end, scanned = s.scanValid(s.segs[first].start)
		// Zero the torn tail and drop segments after the end.
		keep := s.segs[:0]
		for _, seg := range s.segs {
			switch {
			case seg.start+seg.size <= end:
				keep = append(keep, seg)
			case seg.start <= end:
				clear(seg.data[end-seg.start:])
				if err := seg.flushRange(end-seg.start, seg.size); err != nil {
					return err
				}
				keep = append(keep, seg)
			default:
				s.log.Warn("deleting commit-log segment past the valid end", "segment", seg.path, "end", end)
				if err := seg.remove(); err != nil {
					return fmt.Errorf("commitlog: %w", err)
				}
			}
		}
		s.segs = keep
		if len(s.segs) == 0 {
			s.minPhy.Store(end)
		}
	}
	s.writePos = end
	s.wrote.Store(end)
	s.flushed.Store(end)

	// Consume queues: load, cut entries past the end.
	cqRoot := filepath.Join(root, "consumequeue")
	topics, _ := os.ReadDir(cqRoot)
	for _, t := range topics {
		if !t.IsDir() {
			continue
		}
		qids, _ := os.ReadDir(filepath.Join(cqRoot, t.Name()))
		for _, qd := range qids {
			qid, err := strconv.Atoi(qd.Name())
			if err != nil || !qd.IsDir() {
				continue
			}
			q, err := openConsumeQueue(root, t.Name(), int32(qid), s.cfg.MappedFileSizeConsumeQueue)
			if err != nil {
				return err
			}
			if q.maxPhyEnd > end {
				q.truncateAbove(end)
			}
			s.cqs[queueKey{t.Name(), int32(qid)}] = q
		}
	}
	// Index files must not point past the end: drop those that do and re-index from their start.
	from := min(max(ckptOff, s.minPhy.Load()), end)
	if s.cfg.MessageIndexEnable {
		if lost := s.idx.truncateAbove(end); lost >= 0 {
			from = min(from, max(lost, s.minPhy.Load()))
		}
		// Records dispatched before the checkpoint but not yet in a flushed index file.
		if e := s.idx.endPhy(); e+1 < from {
			from = max(e+1, s.minPhy.Load())
		}
	}
	// Re-dispatch from the checkpoint (idempotent), then rebuild the queue-offset table.
	from = s.alignToRecord(from, end)
	s.dispatched.Store(from)
	if err := s.dispatchUpTo(end); err != nil {
		return fmt.Errorf("commitlog: re-dispatch from %d: %w", from, err)
	}
	for k, q := range s.cqs {
		_, hi := q.offsets()
		s.queueOffsets[k] = hi
	}
	if err := os.WriteFile(abortPath, nil, 0o644); err != nil {
		return fmt.Errorf("commitlog: create abort marker: %w", err)
	}
	s.log.Info("store recovered", "crashed", crashed, "segments", len(s.segs), "minPhyOffset", s.minPhy.Load(),
		"maxPhyOffset", end, "recordsScanned", scanned, "redispatchedBytes", end-from, "queues", len(s.cqs),
		"took", time.Since(start))
	return nil
}

// alignToRecord returns the first record boundary at or after off (off may fall inside a record
// when it comes from an index file's end offset).
func (s *Store) alignToRecord(off, end int64) int64 {
	if off <= s.minPhy.Load() || off >= end {
		return min(max(off, s.minPhy.Load()), end)
	}
	pos := s.minPhy.Load()
	s.segMu.RLock()
	for _, seg := range s.segs {
		if seg.start+seg.size <= off {
			continue
		}
		pos = max(pos, seg.start)
		break
	}
	s.segMu.RUnlock()
	for pos < off {
		seg := s.segmentFor(pos)
		if seg == nil {
			return off
		}
		size, err := message.RecordSize(seg.data[pos-seg.start:])
		if errors.Is(err, message.ErrBlank) {
			pos = seg.start + seg.size
			continue
		}
		if err != nil {
			return off
		}
		pos += int64(size)
	}
	return min(pos, end)
}

// scanValid walks records from off and returns the end of the last valid one.
func (s *Store) scanValid(off int64) (int64, int) {
	n := 0
	for {
		seg := s.segmentFor(off)
		if seg == nil {
			return off, n
		}
		b := seg.data[off-seg.start:]
		size, err := message.RecordSize(b)
		if errors.Is(err, message.ErrBlank) {
			if size <= 0 || off+int64(size) != seg.start+seg.size {
				return off, n
			}
			off = seg.start + seg.size
			continue
		}
		if err != nil || size > len(b) {
			if !isZero(b[:min(len(b), 8)]) {
				s.log.Warn("commit log ends at an invalid record", "offset", off, "err", err)
			}
			return off, n
		}
		m, err := message.Decode(b[:size], s.cfg.CheckCRCOnRecover)
		if err != nil || m.CommitLogOffset != off {
			s.log.Warn("commit log ends at a corrupt record; truncating", "offset", off, "err", err)
			return off, n
		}
		n++
		off += int64(size)
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
