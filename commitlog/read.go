package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/skiffmq/skiff/internal/message"
)

// readRecord copies the record of the given size at off; it refuses ranges outside written data.
func (s *Store) readRecord(off int64, size int32) ([]byte, error) {
	if size <= 0 || off < s.minPhy.Load() || off+int64(size) > s.wrote.Load() {
		return nil, fmt.Errorf("%w: offset %d size %d (stored range %d..%d)", ErrNotFound, off, size, s.minPhy.Load(), s.wrote.Load())
	}
	// Hold the segment list while copying: retention unmaps a segment only after taking it out
	// of the list under the write lock.
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	seg := s.segmentForLocked(off)
	if seg == nil || off+int64(size) > seg.start+seg.size {
		return nil, fmt.Errorf("%w: offset %d", ErrNotFound, off)
	}
	out := make([]byte, size)
	copy(out, seg.data[off-seg.start:])
	return out, nil
}

// appendRecord is readRecord appending the copy to buf.
func (s *Store) appendRecord(buf []byte, off int64, size int32) ([]byte, error) {
	if size <= 0 || off < s.minPhy.Load() || off+int64(size) > s.wrote.Load() {
		return buf, fmt.Errorf("%w: offset %d size %d (stored range %d..%d)", ErrNotFound, off, size, s.minPhy.Load(), s.wrote.Load())
	}
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	seg := s.segmentForLocked(off)
	if seg == nil || off+int64(size) > seg.start+seg.size {
		return buf, fmt.Errorf("%w: offset %d", ErrNotFound, off)
	}
	return append(buf, seg.data[off-seg.start:off-seg.start+int64(size)]...), nil
}

// checkRecord reports why raw is not one whole, intact record written at physical offset phy
// (nil when it is): size, magic, lengths, body CRC and the stored physical offset are checked,
// so corrupted bytes are reported and never served as a message.
func checkRecord(raw []byte, phy int64) error {
	if err := message.Verify(raw); err != nil {
		return fmt.Errorf("%w: at offset %d: %w", ErrCorrupt, phy, err)
	}
	if got := int64(binary.BigEndian.Uint64(raw[28:])); got != phy {
		return fmt.Errorf("%w: record at offset %d says it was written at %d", ErrCorrupt, phy, got)
	}
	return nil
}

// checkEntry reports why raw, an intact record (checkRecord), is not the message that the
// consume-queue entry for topic/queueID at queue offset idx names (nil when it is): a damaged
// entry can point at another intact record, which must not be served in its place.
func checkEntry(raw []byte, topic string, queueID int32, idx int64) error {
	be := binary.BigEndian
	if qid, qoff := int32(be.Uint32(raw[12:])), int64(be.Uint64(raw[20:])); qid != queueID || qoff != idx {
		return fmt.Errorf("%w: the record is queue %d offset %d", ErrCorrupt, qid, qoff)
	}
	sys := int32(be.Uint32(raw[36:]))
	p := 72 // born host, store timestamp and store host, both IPv4
	if sys&message.FlagBornHostV6 != 0 {
		p += 12
	}
	if sys&message.FlagStoreHostV6 != 0 {
		p += 12
	}
	if p+16 > len(raw) {
		return fmt.Errorf("%w: record too short for its hosts", ErrCorrupt)
	}
	p += 16 + int(int32(be.Uint32(raw[p+12:]))) // reconsume times, prepared offset, body length, body
	if p < 0 || p >= len(raw) || p+1+int(raw[p]) > len(raw) {
		return fmt.Errorf("%w: record too short for its topic", ErrCorrupt)
	}
	if got := raw[p+1 : p+1+int(raw[p])]; string(got) != topic {
		return fmt.Errorf("%w: the record is of topic %q", ErrCorrupt, got)
	}
	return nil
}

// LookupMessage returns a copy of the whole record at a commit-log offset. An offset that is not
// the start of a record is ErrNotFound; a record that fails its checks (CRC) is ErrCorrupt.
func (s *Store) LookupMessage(off int64) ([]byte, error) {
	if off < s.minPhy.Load() || off+8 > s.wrote.Load() {
		return nil, fmt.Errorf("%w: offset %d", ErrNotFound, off)
	}
	s.segMu.RLock()
	seg := s.segmentForLocked(off)
	if seg == nil {
		s.segMu.RUnlock()
		return nil, fmt.Errorf("%w: offset %d", ErrNotFound, off)
	}
	size, err := message.RecordSize(seg.data[off-seg.start : min(seg.size, off-seg.start+8)])
	s.segMu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("%w: offset %d: %w", ErrNotFound, off, err)
	}
	raw, err := s.readRecord(off, int32(size))
	if err != nil {
		return nil, err
	}
	if err := checkRecord(raw, off); err != nil {
		if errors.Is(err, message.ErrBadCRC) {
			s.log.Error("corrupt commit-log record", "phyOffset", off, "err", err)
		}
		return nil, err
	}
	return raw, nil
}

// MaxOffsetInQueue is the next entry index of a queue (0 for an unknown queue).
func (s *Store) MaxOffsetInQueue(topic string, queueID int32) int64 {
	q, _ := s.queue(topic, queueID, false)
	if q == nil {
		return 0
	}
	_, hi := q.offsets()
	return hi
}

// MinOffsetInQueue is the first entry index whose message is still stored.
func (s *Store) MinOffsetInQueue(topic string, queueID int32) int64 {
	q, _ := s.queue(topic, queueID, false)
	if q == nil {
		return 0
	}
	lo, _ := q.offsets()
	return lo
}

// storeTimeOfEntry reads the store timestamp of the message an entry points at.
func (s *Store) storeTimeOfEntry(q *consumeQueue, idx int64) (int64, bool) {
	phy, size, _, ok := q.get(idx)
	if !ok || size == fillerSize {
		return 0, false
	}
	raw, err := s.readRecord(phy, size)
	if err != nil || len(raw) < 64 {
		return 0, false
	}
	pos := 56
	if int32(binary.BigEndian.Uint32(raw[36:]))&message.FlagBornHostV6 != 0 {
		pos += 12
	}
	if pos+8 > len(raw) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(raw[pos:])), true
}

// OffsetByTime finds the queue offset of the message stored at ts, or the nearer neighbour
// (binary search over store timestamps); 0 when the queue is empty.
func (s *Store) OffsetByTime(topic string, queueID int32, ts int64) int64 {
	q, _ := s.queue(topic, queueID, false)
	if q == nil {
		return 0
	}
	lo, hi := q.offsets()
	if hi <= lo {
		return 0
	}
	left, right := lo, hi-1
	for left <= right {
		mid := left + (right-left)/2
		t, ok := s.storeTimeOfEntry(q, mid)
		if !ok {
			left = mid + 1
			continue
		}
		switch {
		case t == ts:
			return mid
		case t < ts:
			left = mid + 1
		default:
			right = mid - 1
		}
	}
	// left is the first entry newer than ts, right the last older one.
	if right < lo {
		return lo
	}
	if left >= hi {
		return hi - 1
	}
	tl, _ := s.storeTimeOfEntry(q, left)
	tr, _ := s.storeTimeOfEntry(q, right)
	if tl-ts < ts-tr {
		return left
	}
	return right
}

// EarliestMsgStoreTime is the store time of the message at the queue's min offset (0 if none).
func (s *Store) EarliestMsgStoreTime(topic string, queueID int32) int64 {
	q, _ := s.queue(topic, queueID, false)
	if q == nil {
		return 0
	}
	lo, _ := q.offsets()
	t, _ := s.storeTimeOfEntry(q, lo)
	return t
}

// GetMessage reads up to maxMsgNums messages of a queue from offset, keeping those whose tag code
// match accepts (nil accepts all). Statuses and next offsets follow RocketMQ (§2.5).
func (s *Store) GetMessage(topic string, queueID int32, offset int64, maxMsgNums int, match func(tagsCode int64) bool) GetResult {
	res := GetResult{MaxPhyOffset: s.wrote.Load()}
	q, _ := s.queue(topic, queueID, false)
	if q == nil {
		res.Status = NoMatchedLogicQueue
		return res
	}
	lo, hi := q.offsets()
	res.MinOffset, res.MaxOffset = lo, hi
	switch {
	case hi == 0:
		res.Status = NoMessageInQueue
		return res
	case offset < lo:
		res.Status, res.NextBeginOffset = OffsetTooSmall, lo
		return res
	case offset == hi:
		res.Status, res.NextBeginOffset = OffsetOverflowOne, offset
		return res
	case offset > hi:
		res.Status, res.NextBeginOffset = OffsetOverflowBadly, hi
		return res
	}
	if maxMsgNums <= 0 {
		maxMsgNums = 1
	}
	maxScan := int64(max(16000, maxMsgNums*cqEntrySize) / cqEntrySize)
	bytesBudget := s.cfg.MaxTransferBytesOnMessageInMemory
	countBudget := min(maxMsgNums, s.cfg.MaxTransferCountOnMessageInMemory)
	total, removing := 0, false
	// Every returned record is copied once, out of the mapping into one buffer (Body), so the
	// answer stays valid after retention unmaps the segment; Messages are slices of it.
	var buf []byte
	var spans []int // start of each record in buf
	idx := offset
	for ; idx < hi && idx-offset < maxScan; idx++ {
		phy, size, tags, ok := q.get(idx)
		if !ok {
			if idx == offset {
				// The consume-queue file holding offset is gone: skip to the next file.
				perFile := s.cfg.MappedFileSizeConsumeQueue / cqEntrySize
				res.Status, res.NextBeginOffset = OffsetFoundNull, (offset/perFile+1)*perFile
				return res
			}
			break
		}
		if size == fillerSize {
			continue
		}
		if len(spans) > 0 && (len(spans) >= countBudget || total+int(size) > bytesBudget) {
			break
		}
		if match != nil && !match(tags) {
			continue
		}
		if buf == nil {
			buf = make([]byte, 0, min(bytesBudget, int(size)*min(countBudget, int(hi-idx))))
		}
		at := len(buf)
		var err error
		buf, err = s.appendRecord(buf, phy, size)
		if err != nil {
			removing = phy < s.minPhy.Load()
			continue
		}
		raw := buf[at:]
		err = checkRecord(raw, phy)
		if err == nil {
			err = checkEntry(raw, topic, queueID, idx)
		}
		if err != nil {
			buf = buf[:at]
			// A consume-queue entry that does not point at a whole record of this queue and
			// offset (a damaged consume-queue file), or a record whose CRC fails, is skipped,
			// never served.
			s.log.Error("consume-queue entry does not lead to an intact commit-log record; skipped",
				"topic", topic, "queueId", queueID, "queueOffset", idx, "phyOffset", phy, "size", size, "err", err)
			continue
		}
		if tran := int32(binary.BigEndian.Uint32(raw[36:])) & message.TransactionMask; tran == message.TransactionRollback {
			// A consume-queue entry never leads to a rollback record, except to the filler that
			// Repair wrote over a damaged record.
			s.log.Warn("consume-queue entry leads to a repaired (damaged) record; skipped",
				"topic", topic, "queueId", queueID, "queueOffset", idx, "phyOffset", phy)
			buf = buf[:at]
			continue
		}
		spans = append(spans, at)
		res.LastPhyOffset = phy
		total += int(size)
	}
	if len(spans) > 0 {
		res.Body = buf
		res.Messages = make([][]byte, len(spans))
		for i, at := range spans {
			end := len(buf)
			if i+1 < len(spans) {
				end = spans[i+1]
			}
			res.Messages[i] = buf[at:end:end]
		}
	}
	res.NextBeginOffset = idx
	switch {
	case len(res.Messages) > 0:
		res.Status = Found
	case removing:
		res.Status = MessageWasRemoving
	default:
		res.Status = NoMatchedMessage
	}
	return res
}

// QueryMessage finds messages of a topic by key (a KEYS entry or a UNIQ_KEY) stored within
// [begin, end] ms, newest first, at most maxNum.
func (s *Store) QueryMessage(topic, key string, maxNum int, begin, end int64) QueryResult {
	var res QueryResult
	offs, lastTs, lastPhy := s.idx.lookup(topic, key, maxNum, begin, end)
	res.IndexLastUpdateTimestamp, res.IndexLastUpdatePhyoffset = lastTs, lastPhy
	seen := map[int64]bool{}
	for _, off := range offs {
		if seen[off] { // a record indexed in a sealed file and again after a crash
			continue
		}
		seen[off] = true
		raw, err := s.LookupMessage(off)
		if err != nil {
			continue
		}
		// The index holds hashes: keep only records of this topic that carry the key.
		m, err := message.Decode(raw, false)
		if err != nil || m.Topic != topic || !(m.UniqKey() == key || slices.Contains(m.Keys(), key)) {
			continue
		}
		res.Messages = append(res.Messages, raw)
	}
	return res
}
