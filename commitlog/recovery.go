package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/skiffmq/skiff/internal/message"
)

// recover loads the commit log, the consume queues and the index, and brings them to a
// consistent end, reading as little as it can:
//
//   - Clean stop (the checkpoint's clean flag is set and no abort marker is left): the log ends
//     at the checkpoint's flushed offset and every consume queue ends where its last file's
//     entries end (binary search). Nothing is scanned.
//   - Crash (kill -9 or power loss): records from the checkpoint's dispatched offset D on — plus
//     RecoverVerifyBytes of flushed log before it — are verified (size, magic, CRC, stored
//     offset). A bad record before the checkpoint's flushed offset F is corruption: Open fails
//     with ErrCorrupt naming the file and offset, and nothing is changed on disk (Repair sets the
//     damaged segment aside). A bad record at or past F is a torn tail: the rest of its segment is
//     zeroed and later segments are removed. Consume-queue entries of records at or past D are
//     dropped and the records [D, end) dispatched again; a consume queue whose entries do not
//     match the commit log is rebuilt from it.
func (s *Store) recover() error {
	start := time.Now()
	root := s.cfg.StorePathRootDir
	abortPath := filepath.Join(root, "abort")
	_, err := s.fs.Stat(abortPath)
	abort := err == nil
	ckpt, ck, ckOK, legacy, err := openCheckpoint(s.fs, root)
	if err != nil {
		return err
	}
	s.ckpt = ckpt
	crashed := abort || !ckOK || !ck.Clean
	if !ckOK {
		// No checkpoint (a new store, or one written by an earlier Skiff): trust nothing past
		// the earlier format's dispatched offset.
		ck = checkpointState{Flushed: legacy, ConsumeQueue: legacy, Index: legacy}
	}

	phase := start
	mark := func(name string) { // per-phase timings, at Debug level
		s.log.Debug("recovery phase", "phase", name, "took", time.Since(phase))
		phase = time.Now()
	}
	mark("checkpoint")
	starts, err := listSegments(s.fs, s.dir)
	if err != nil {
		return err
	}
	size := s.cfg.MappedFileSizeCommitLog
	for i, st := range starts {
		if st%size != 0 || (i > 0 && st != starts[i-1]+size) {
			return fmt.Errorf("commitlog: segment %s does not follow %s with size %d", segmentName(st), segmentName(starts[max(i-1, 0)]), size)
		}
		seg, err := openSegment(s.fs, s.dir, st, size)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, seg)
	}
	minPhy := ck.MinPhys
	if len(s.segs) > 0 {
		minPhy = s.segs[0].start
	}
	s.minPhy.Store(minPhy)
	logEnd := minPhy // end of the last segment
	if n := len(s.segs); n > 0 {
		logEnd = s.segs[n-1].start + size
	}

	durable := max(min(ck.ConsumeQueue, ck.Flushed), minPhy) // consume queues and index are durable below
	if s.cfg.MessageIndexEnable {
		durable = max(min(durable, ck.Index), minPhy)
	}
	var end, verified int64
	if !crashed {
		end = ck.Flushed
		if end < minPhy || end > logEnd || (len(s.segs) == 0 && end != minPhy) {
			return fmt.Errorf("%w: the checkpoint says the log ends at %d but the segment files in %s cover %d..%d",
				ErrCorrupt, end, s.dir, minPhy, logEnd)
		}
		durable = min(durable, end)
	} else {
		if ck.Flushed > logEnd {
			return fmt.Errorf("%w: the checkpoint says the log is durable up to %d but the segment files in %s end at %d (missing segment files?)",
				ErrCorrupt, ck.Flushed, s.dir, logEnd)
		}
		from := durable
		if v := ck.Flushed - s.cfg.RecoverVerifyBytes; v < from {
			from = s.recordAtOrAfter(max(v, minPhy), durable)
		}
		end, err = s.verify(from, max(ck.Flushed, durable))
		if err != nil {
			return err
		}
		verified = end - from
		s.recovery.ZeroedBytes = logEnd - end
		if err := s.cutTail(end); err != nil {
			return err
		}
	}
	s.writePos = end
	s.wrote.Store(end)
	s.flushed.Store(end)
	if crashed && end > ck.Flushed {
		// Records past the checkpoint were found intact (kill -9 keeps the page cache); make them
		// durable before anything depends on them.
		if err := s.flushRange(ck.Flushed, end); err != nil {
			return err
		}
	}

	mark("commit log")
	var hints map[queueKey]int64
	if !crashed {
		hints = readCQEnds(s.fs, root, ck.Seq)
	}
	_ = s.fs.Remove(cqEndsPath(root)) // a hint for this run only: the next clean Close writes a new one
	if err := s.loadQueues(crashed, durable, end, hints); err != nil {
		return err
	}
	mark("consume queues")
	if crashed && s.cfg.MessageIndexEnable && s.idx.endPhy() >= durable {
		s.idx.seal()
	}
	// Re-dispatch what lies past the durable consume queues (idempotent; strict: a consume queue
	// that does not match the commit log is marked damaged and rebuilt).
	s.damaged = map[queueKey]bool{}
	s.cqMu.RLock()
	for _, q := range s.cqs {
		q.strict = true
	}
	s.cqMu.RUnlock()
	s.dispatched.Store(durable)
	err = s.dispatch(end)
	s.cqMu.RLock()
	for _, q := range s.cqs {
		q.strict = false
	}
	s.cqMu.RUnlock()
	if err != nil {
		return fmt.Errorf("commitlog: re-dispatch from %d: %w", durable, err)
	}
	if len(s.damaged) > 0 {
		if err := s.rebuildQueues(end); err != nil {
			return err
		}
	}
	s.damaged = nil
	for k, q := range s.cqs {
		_, hi := q.offsets()
		s.setQueueOffset(k, hi)
	}
	mark("re-dispatch")
	if err := s.flushQueues(); err != nil {
		return err
	}
	mark("flush and checkpoint")
	f, err := s.fs.OpenFile(abortPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("commitlog: create abort marker: %w", err)
	}
	_ = f.Close()
	if err := s.fs.SyncDir(root); err != nil {
		return fmt.Errorf("commitlog: sync folder %s: %w", root, err)
	}
	s.recovery.Crashed = crashed
	s.recovery.VerifiedBytes = verified
	s.recovery.RedispatchedBytes = end - durable
	s.recovery.Took = time.Since(start)
	s.log.Info("store recovered", "crashed", crashed, "segments", len(s.segs), "minPhyOffset", minPhy,
		"maxPhyOffset", end, "checkpointFlushedOffset", ck.Flushed, "verifiedBytes", verified,
		"redispatchedBytes", end-durable, "zeroedTailBytes", s.recovery.ZeroedBytes,
		"rebuiltQueues", s.recovery.RebuiltQueues, "queues", len(s.cqs), "took", s.recovery.Took)
	return nil
}

// flushRange msyncs commit-log bytes [from, to).
func (s *Store) flushRange(from, to int64) error {
	for _, seg := range s.segs {
		lo, hi := max(from, seg.start), min(to, seg.start+seg.size)
		if hi > lo {
			if err := seg.flushRange(lo-seg.start, hi-seg.start); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadQueues opens every consume queue and cuts entries pointing past end.
func (s *Store) loadQueues(crashed bool, durable, end int64, hints map[queueKey]int64) error {
	cqRoot := filepath.Join(s.cfg.StorePathRootDir, "consumequeue")
	topics, _ := s.fs.ReadDir(cqRoot)
	for _, t := range topics {
		if !t.IsDir() {
			continue
		}
		qids, _ := s.fs.ReadDir(filepath.Join(cqRoot, t.Name()))
		for _, qd := range qids {
			qid, err := strconv.Atoi(qd.Name())
			if err != nil || !qd.IsDir() {
				continue
			}
			q, err := openConsumeQueue(s.fs, s.cfg.StorePathRootDir, t.Name(), int32(qid), s.cfg.MappedFileSizeConsumeQueue, crashed, durable, hints[queueKey{t.Name(), int32(qid)}])
			if err != nil {
				return err
			}
			s.cqs[queueKey{t.Name(), int32(qid)}] = q.withWarm(s.cfg.WarmMappedFile, &s.prefault)
			if q.maxPhyEnd > end {
				if err := q.truncateAbove(end); err != nil {
					return err
				}
			}
			q.dropBelowPhy(s.minPhy.Load())
		}
	}
	return nil
}

// verify walks records from off (a record boundary) and returns the end of the last valid one. A
// record that fails before mustReach is corruption (ErrCorrupt naming file and offset); one that
// fails at or after it ends the log (a torn tail).
func (s *Store) verify(off, mustReach int64) (int64, error) {
	for {
		seg := s.segmentFor(off)
		if seg == nil {
			if off < mustReach {
				return off, fmt.Errorf("%w: no segment file holds offset %d in %s (the checkpoint says the log is durable up to %d)",
					ErrCorrupt, off, s.dir, mustReach)
			}
			return off, nil
		}
		size, err := s.checkAt(seg, off)
		if err == nil && off >= mustReach {
			err = checkNotTorn(seg.data[off-seg.start : off-seg.start+size])
		}
		if err != nil {
			if off < mustReach {
				return off, &CorruptionError{Path: seg.path, Offset: off, FileOffset: off - seg.start, Err: err}
			}
			if !isZero(seg.data[off-seg.start : min(seg.size, off-seg.start+8)]) {
				s.log.Warn("commit log ends at a torn record past the checkpoint; truncating it", "segment", seg.path, "offset", off, "err", err)
			}
			return off, nil
		}
		off += size
	}
}

// checkAt validates the record (or end-of-segment blank) at off and returns how far it reaches.
func (s *Store) checkAt(seg *segment, off int64) (int64, error) {
	b := seg.data[off-seg.start:]
	size, err := message.RecordSize(b)
	if errors.Is(err, message.ErrBlank) {
		if size < 8 || off+int64(size) != seg.start+seg.size {
			return 0, fmt.Errorf("blank of %d bytes does not reach the end of the segment", size)
		}
		return int64(size), nil
	}
	if err != nil {
		return 0, err
	}
	if size > len(b) {
		return 0, fmt.Errorf("record of %d bytes runs past the end of the segment", size)
	}
	if s.cfg.CheckCRCOnRecover {
		if err := checkRecord(b[:size], off); err != nil {
			return 0, err
		}
	} else if m, err := message.Decode(b[:size], false); err != nil || m.CommitLogOffset != off {
		if err == nil {
			err = fmt.Errorf("record says it was written at %d", m.CommitLogOffset)
		}
		return 0, err
	}
	return int64(size), nil
}

// checkNotTorn reports a record past the durable point whose topic or properties hold a NUL
// byte. The body CRC covers only the body, so a record whose last pages never reached the disk
// passes checkAt: segments are preallocated and never reused, so a page that was not written
// back reads as zeros, and the record's tail (its properties, then its topic) comes back as NUL
// bytes. The store refuses NUL bytes in topics and properties when it appends (PutMessages), so
// a NUL there can only be such a torn write. Blanks (end-of-segment markers) pass.
func checkNotTorn(rec []byte) error {
	if len(rec) < 8 || int32(binary.BigEndian.Uint32(rec[4:])) == message.BlankMagicCode {
		return nil
	}
	topic, props, ok := recordTail(rec)
	if !ok {
		return fmt.Errorf("record of %d bytes does not parse", len(rec))
	}
	if bytes.IndexByte(topic, 0) >= 0 || bytes.IndexByte(props, 0) >= 0 {
		return fmt.Errorf("record of %d bytes has NUL bytes in its topic or properties (its last pages were not written before the crash)", len(rec))
	}
	return nil
}

// recordTail returns the topic and property bytes of a record that passed message.Verify.
func recordTail(rec []byte) (topic, props []byte, ok bool) {
	be := binary.BigEndian
	sys := int32(be.Uint32(rec[36:]))
	p := 72 // born host, store timestamp and store host, both IPv4
	if sys&message.FlagBornHostV6 != 0 {
		p += 12
	}
	if sys&message.FlagStoreHostV6 != 0 {
		p += 12
	}
	if p+16 > len(rec) {
		return nil, nil, false
	}
	p += 16 + int(int32(be.Uint32(rec[p+12:]))) // reconsume times, prepared offset, body length, body
	if p < 0 || p >= len(rec) || p+1+int(rec[p]) > len(rec) {
		return nil, nil, false
	}
	topic = rec[p+1 : p+1+int(rec[p])]
	p += 1 + int(rec[p])
	if p+2 > len(rec) {
		return nil, nil, false
	}
	n := int(be.Uint16(rec[p:]))
	if p+2+n > len(rec) {
		return nil, nil, false
	}
	return topic, rec[p+2 : p+2+n], true
}

// CorruptionError is a record that fails its checks where the log must be intact (before the
// checkpoint's flushed offset). It wraps ErrCorrupt.
type CorruptionError struct {
	Path       string // segment file
	Offset     int64  // commit-log offset of the record
	FileOffset int64  // position inside the file
	Err        error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("commitlog: corrupt record in %s at file position %d (commit-log offset %d), before the checkpointed flush point: %v; nothing was changed (mqbroker --repair-store sets the damaged segment aside and keeps every readable message)",
		e.Path, e.FileOffset, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// cutTail makes end the end of the log after a crash: the rest of its segment is zeroed and later
// segments are removed (only bytes past the checkpoint's flushed offset ever get here).
func (s *Store) cutTail(end int64) error {
	keep := s.segs[:0]
	for _, seg := range s.segs {
		switch {
		case seg.start+seg.size <= end:
			keep = append(keep, seg)
		case seg.start <= end:
			if err := seg.zeroFrom(end - seg.start); err != nil {
				return err
			}
			keep = append(keep, seg)
		default:
			s.log.Warn("removing commit-log segment past the valid end", "segment", seg.path, "end", end)
			if err := seg.remove(s.fs); err != nil {
				return fmt.Errorf("commitlog: %w", err)
			}
		}
	}
	s.segs = keep
	return nil
}

// recordAtOrAfter finds the first record boundary at or after off, by looking for a record that
// validates and says it was written where it lies (a segment start always is a boundary); it
// gives up at limit.
func (s *Store) recordAtOrAfter(off, limit int64) int64 {
	for off < limit {
		seg := s.segmentFor(off)
		if seg == nil {
			return limit
		}
		if off == seg.start {
			return off
		}
		segEnd := min(seg.start+seg.size, limit)
		for p := off; p < segEnd; p++ {
			if n, err := s.checkAt(seg, p); err == nil && n > 0 {
				if _, isBlank := message.RecordSize(seg.data[p-seg.start:]); !errors.Is(isBlank, message.ErrBlank) {
					return p
				}
			}
		}
		off = seg.start + seg.size
	}
	return limit
}

// rebuildQueues rebuilds the consume queues marked damaged from the whole commit log.
func (s *Store) rebuildQueues(end int64) error {
	t0 := time.Now()
	s.cqMu.Lock()
	for k := range s.damaged {
		if q := s.cqs[k]; q != nil {
			q.close()
		}
		dir := cqDir(s.cfg.StorePathRootDir, k.topic, k.queueID)
		bad := dir + ".damaged-" + strconv.FormatInt(s.cfg.Clock().UnixMilli(), 10)
		if err := s.fs.Rename(dir, bad); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.cqMu.Unlock()
			return fmt.Errorf("commitlog: set damaged consume queue %s aside: %w", dir, err)
		}
		s.cqs[k] = newConsumeQueue(s.fs, s.cfg.StorePathRootDir, k.topic, k.queueID, s.cfg.MappedFileSizeConsumeQueue).withWarm(s.cfg.WarmMappedFile, &s.prefault)
		s.log.Warn("rebuilding damaged consume queue from the commit log", "topic", k.topic, "queueId", k.queueID, "setAside", bad)
	}
	s.cqMu.Unlock()
	off := s.minPhy.Load()
	for off < end {
		seg := s.segmentFor(off)
		if seg == nil {
			break
		}
		b := seg.data[off-seg.start : min(end, seg.start+seg.size)-seg.start]
		size, err := message.RecordSize(b)
		if errors.Is(err, message.ErrBlank) {
			off = seg.start + seg.size
			continue
		}
		if err != nil || size > len(b) {
			break
		}
		m, err := message.Decode(b[:size], false)
		if err == nil && s.damaged[queueKey{m.Topic, m.QueueID}] {
			tran := m.SysFlag & message.TransactionMask
			if tran != message.TransactionPrepared && tran != message.TransactionRollback {
				q, _ := s.queue(m.Topic, m.QueueID, true)
				tags := message.TagsCode(m.Properties[message.PropertyTags])
				if m.Topic == scheduleTopic {
					if lvl := int(m.QueueID); lvl >= 0 && lvl < len(s.levels) {
						tags = m.StoreTimestamp + s.levels[lvl]
					}
				}
				if err := q.put(m.QueueOffset, m.CommitLogOffset, m.StoreSize, tags); err != nil {
					return fmt.Errorf("commitlog: rebuild consume queue %s/%d: %w", m.Topic, m.QueueID, err)
				}
			}
		}
		off += int64(size)
	}
	s.recovery.RebuiltQueues = len(s.damaged)
	s.log.Info("consume queues rebuilt", "queues", len(s.damaged), "scannedBytes", end-s.minPhy.Load(), "took", time.Since(t0))
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
