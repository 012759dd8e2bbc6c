package commitlog

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// forcibleCleanRatio is the disk use above which even unexpired segments are deleted, oldest
// first (RocketMQ's diskSpaceCleanForciblyRatio, 85 %).
const forcibleCleanRatio = 0.85

// cleanLoop runs retention every CleanResourceInterval.
func (s *Store) cleanLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.CleanResourceInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.clean(s.cfg.Clock())
		}
	}
}

// clean deletes commit-log segments whose last write is older than FileReservedTime when the
// hour is listed in DeleteWhen or the disk is fuller than DiskMaxUsedSpaceRatio; above 85 % it
// deletes the oldest segments even when they have not expired. The active segment and
// segments holding records not yet dispatched are never deleted. Consume queues and the index
// then drop what pointed into deleted segments. It returns the number of segments deleted.
func (s *Store) clean(now time.Time) int {
	deleted := 0
	for {
		ratio := s.diskRatio()
		over := ratio*100 > float64(s.cfg.DiskMaxUsedSpaceRatio)
		forcible := ratio > forcibleCleanRatio
		atHour := hourListed(now.Hour(), s.cfg.DeleteWhen)

		s.segMu.RLock()
		if len(s.segs) <= 1 {
			s.segMu.RUnlock()
			break
		}
		first := s.segs[0]
		s.segMu.RUnlock()
		if first.start+first.size > s.dispatched.Load() {
			break
		}
		st, err := s.fs.Stat(first.path)
		if err != nil {
			break
		}
		expired := now.Sub(st.ModTime()) > s.cfg.FileReservedTime
		reason := ""
		switch {
		case expired && atHour:
			reason = "expired at a deleteWhen hour"
		case expired && over:
			reason = "expired and disk use over diskMaxUsedSpaceRatio"
		case forcible:
			reason = "disk use over the forcible clean ratio"
		default:
		}
		if reason == "" {
			break
		}
		if err := s.deleteFirstSegment(); err != nil {
			s.log.Error("delete commit-log segment failed", "segment", first.path, "err", err)
			break
		}
		deleted++
		s.log.Info("commit-log segment deleted", "segment", first.path, "reason", reason,
			"diskRatio", strconv.FormatFloat(ratio, 'f', 3, 64), "minPhyOffset", s.minPhy.Load())
	}
	return deleted
}

// deleteFirstSegment removes the oldest segment and everything that points into it.
func (s *Store) deleteFirstSegment() error {
	s.segMu.Lock()
	seg := s.segs[0]
	s.segs = s.segs[1:]
	newMin := s.segs[0].start
	s.minPhy.Store(newMin)
	s.segMu.Unlock() // readers copy under the read lock, so no one reads seg any more
	if err := seg.remove(s.fs); err != nil {
		return err
	}
	s.cqMu.RLock()
	qs := make([]*consumeQueue, 0, len(s.cqs))
	for _, q := range s.cqs {
		qs = append(qs, q)
	}
	s.cqMu.RUnlock()
	for _, q := range qs {
		q.dropBelowPhy(newMin)
	}
	s.idx.dropBelow(newMin)
	return nil
}

// dropBelowPhy advances the queue's min offset past entries whose commit-log data is gone and
// deletes consume-queue files that hold only such entries (never the file being written).
func (q *consumeQueue) dropBelowPhy(minPhy int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.minOffset < q.maxOffset {
		phy, size, _, ok := q.entryLocked(q.minOffset)
		if ok && size != fillerSize && phy >= minPhy {
			break
		}
		q.minOffset++
	}
	for len(q.segs) > 1 && q.segs[0].start+q.segs[0].size <= q.minOffset*cqEntrySize {
		_ = q.segs[0].remove(q.fs)
		q.segs = q.segs[1:]
	}
}

// diskRatio is the used fraction of the commit log's file system (replaceable in tests).
func (s *Store) diskRatio() float64 {
	if s.diskUsage != nil {
		return s.diskUsage()
	}
	var fs unix.Statfs_t
	if unix.Statfs(s.dir, &fs) != nil || fs.Blocks == 0 {
		return 0
	}
	return 1 - float64(fs.Bavail)/float64(fs.Blocks)
}

// hourListed reports whether hour is in a "04;16" list.
func hourListed(hour int, list string) bool {
	for _, h := range strings.Split(list, ";") {
		if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n == hour {
			return true
		}
	}
	return false
}
