package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/skiffmq/skiff/internal/message"
)

// RepairTopic is the topic of the filler records Repair writes over damaged bytes. They are
// rollback-type records: never dispatched to a consume queue, never indexed, skipped by pulls.
const RepairTopic = "%SKIFF_REPAIRED%"

// RepairReport says what Repair did.
type RepairReport struct {
	Segments      int           // segments scanned
	Records       int64         // intact records kept
	Damaged       []DamageRange // unreadable ranges replaced by filler
	SetAside      []string      // original damaged segment files, moved to <root>/damaged/
	DamagedBytes  int64         // bytes no record could be read from
	ScannedBytes  int64
	ConsumeQueues string // what to expect of the consume queues
}

// DamageRange is one run of unreadable commit-log bytes.
type DamageRange struct {
	Segment  string
	From, To int64 // commit-log offsets [From, To)
}

// Repair makes a store whose log holds corrupt records openable again without losing any record
// that can still be read. The store must not be open. Every segment is scanned from its start;
// each run of bytes that is not a valid record (bad CRC, bad length, a record that does not say
// it lies where it lies) up to the next valid record — found again by its magic code, its stored
// offset and its CRC — or up to the end of the segment is replaced, in a copy of the segment, by
// a filler record of the same length (topic RepairTopic, rollback type) or an end-of-segment
// blank. The original segment is moved to <root>/damaged/ unchanged, and the copy takes its name.
// Record offsets do not move, so consume-queue entries, the index, consumer offsets and slaves stay
// valid; an entry that pointed at a damaged record now leads to the filler, which pulls skip.
//
// Bytes at the end of the last segment that are not a record are left alone (a torn tail, which
// Open truncates when it lies past the checkpoint).
func Repair(cfg Config) (RepairReport, error) {
	var rep RepairReport
	if cfg.StorePathRootDir == "" {
		return rep, errors.New("commitlog: StorePathRootDir is empty")
	}
	cfg.fillDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{cfg: cfg, fs: cfg.FS, log: log.With("component", "store-repair"), dir: cfg.StorePathCommitLog}
	defer func() {
		for _, seg := range s.segs {
			_ = seg.close()
		}
	}()
	starts, err := listSegments(s.fs, s.dir)
	if err != nil {
		return rep, err
	}
	size := cfg.MappedFileSizeCommitLog
	for _, st := range starts {
		seg, err := openSegment(s.fs, s.dir, st, size)
		if err != nil {
			return rep, err
		}
		s.segs = append(s.segs, seg)
	}
	rep.ConsumeQueues = "unchanged: entries of damaged records lead to fillers and are skipped"
	for i, seg := range s.segs {
		rep.Segments++
		last := i == len(s.segs)-1
		var ranges [][2]int64 // segment-relative
		off := int64(0)
		for off < size {
			n, err := s.checkAt(seg, seg.start+off)
			if err == nil {
				if _, b := message.RecordSize(seg.data[off:]); !errors.Is(b, message.ErrBlank) {
					rep.Records++
				}
				off += n
				continue
			}
			if isZero(seg.data[off:]) {
				if !last && off < size {
					ranges = append(ranges, [2]int64{off, size}) // a lost end-of-segment blank
				}
				break
			}
			next := s.nextRecord(seg, off+1)
			if next == size && last {
				break // a torn tail: left to Open
			}
			ranges = append(ranges, [2]int64{off, next})
			off = next
		}
		rep.ScannedBytes += off
		if len(ranges) == 0 {
			continue
		}
		aside, err := s.replaceSegment(seg, ranges)
		if err != nil {
			return rep, err
		}
		rep.SetAside = append(rep.SetAside, aside)
		for _, r := range ranges {
			rep.Damaged = append(rep.Damaged, DamageRange{Segment: seg.path, From: seg.start + r[0], To: seg.start + r[1]})
			rep.DamagedBytes += r[1] - r[0]
			s.log.Warn("damaged commit-log bytes replaced by a filler", "segment", seg.path, "from", seg.start+r[0], "to", seg.start+r[1])
		}
		s.log.Warn("damaged segment set aside", "segment", seg.path, "original", aside)
	}
	s.log.Info("store repair finished", "segments", rep.Segments, "recordsKept", rep.Records,
		"damagedRanges", len(rep.Damaged), "damagedBytes", rep.DamagedBytes, "setAside", len(rep.SetAside))
	return rep, nil
}

// nextRecord returns the segment-relative position of the first valid record (or blank reaching
// the segment end) at or after off, or the segment size.
func (s *Store) nextRecord(seg *segment, off int64) int64 {
	for p := off; p+8 <= seg.size; p++ {
		magic := int32(binary.BigEndian.Uint32(seg.data[p+4:]))
		if magic != message.MagicCode && magic != message.BlankMagicCode {
			continue
		}
		if _, err := s.checkAt(seg, seg.start+p); err == nil {
			return p
		}
	}
	return seg.size
}

// replaceSegment writes a copy of seg with fillers over ranges, moves the original to
// <root>/damaged/ and puts the copy in its place. It returns the original's new path.
func (s *Store) replaceSegment(seg *segment, ranges [][2]int64) (string, error) {
	tmp := seg.path + ".repair"
	f, err := s.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", fmt.Errorf("commitlog: repair: %w", err)
	}
	defer f.Close()
	if err := sizeFile(f, seg.size); err != nil {
		return "", fmt.Errorf("commitlog: repair: preallocate %s: %w", tmp, err)
	}
	const chunk = 4 << 20
	for off := int64(0); off < seg.size; off += chunk {
		if _, err := f.WriteAt(seg.data[off:min(off+chunk, seg.size)], off); err != nil {
			return "", fmt.Errorf("commitlog: repair: write %s: %w", tmp, err)
		}
	}
	for _, r := range ranges {
		fill, err := filler(seg.start+r[0], r[1]-r[0], r[1] == seg.size)
		if err != nil {
			return "", fmt.Errorf("commitlog: repair of %s [%d, %d): %w", seg.path, r[0], r[1], err)
		}
		if _, err := f.WriteAt(fill, r[0]); err != nil {
			return "", fmt.Errorf("commitlog: repair: write %s: %w", tmp, err)
		}
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("commitlog: repair: sync %s: %w", tmp, err)
	}
	dir := filepath.Join(s.cfg.StorePathRootDir, "damaged")
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("commitlog: repair: %w", err)
	}
	aside := filepath.Join(dir, filepath.Base(seg.path)+"."+strconv.FormatInt(s.cfg.Clock().UnixMilli(), 10))
	if err := s.fs.Rename(seg.path, aside); err != nil {
		return "", fmt.Errorf("commitlog: repair: move %s aside: %w", seg.path, err)
	}
	if err := s.fs.Rename(tmp, seg.path); err != nil {
		return "", fmt.Errorf("commitlog: repair: %w", err)
	}
	for _, d := range []string{dir, s.dir} {
		if err := s.fs.SyncDir(d); err != nil {
			return "", fmt.Errorf("commitlog: repair: sync folder %s: %w", d, err)
		}
	}
	return aside, nil
}

// filler returns n bytes that read as one record written at off (or, to the end of a segment, a
// blank) and that no consumer is ever given.
func filler(off, n int64, toSegmentEnd bool) ([]byte, error) {
	if toSegmentEnd {
		if n < 8 {
			return nil, fmt.Errorf("%d bytes before the segment end cannot hold a blank", n)
		}
		b := make([]byte, 8)
		binary.BigEndian.PutUint32(b, uint32(n))
		magic := message.BlankMagicCode
		binary.BigEndian.PutUint32(b[4:], uint32(magic))
		return b, nil
	}
	m := &message.Message{Topic: RepairTopic, CommitLogOffset: off, SysFlag: message.TransactionRollback}
	base, err := m.EncodedSize()
	if err != nil {
		return nil, err
	}
	if int64(base) > n {
		m.Topic = ""
		if base, err = m.EncodedSize(); err != nil {
			return nil, err
		}
	}
	if int64(base) > n {
		return nil, fmt.Errorf("%d bytes cannot hold a filler record (at least %d)", n, base)
	}
	m.Body = make([]byte, n-int64(base))
	b := make([]byte, n)
	if _, err := m.EncodeTo(b); err != nil {
		return nil, err
	}
	return b, nil
}
