package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
	"unicode"

	"github.com/skiffmq/skiff/commitlog/vfs"
	"github.com/skiffmq/skiff/internal/message"
)

// Index files (§4.4): a hash index from "topic#key" to commit-log offsets, for QUERY_MESSAGE by
// KEYS entries and UNIQ_KEY. Files live in <root>/index/, named by creation time
// (yyyyMMddHHmmssSSS), each of 40 + slots×4 + maxIndex×20 bytes, preallocated and mapped:
//
//	header (40 bytes)
//	offset size field
//	     0    8 beginTimestamp (store time of the first entry)
//	     8    8 endTimestamp (store time of the last entry)
//	    16    8 beginPhyOffset
//	    24    8 endPhyOffset
//	    32    4 hashSlotCount (non-empty slots)
//	    36    4 indexCount (starts at 1; entry 0 is never used)
//	slot table at 40: slots × int32, the number of the newest entry of each slot's chain (0 = empty)
//	entry i at 40 + slots×4 + i×20:
//	     0    4 keyHash = |javaHash(topic#key)|
//	     4    8 commit-log offset
//	    12    4 timeDiff = (storeTimestamp − beginTimestamp) / 1000 s
//	    16    4 previous entry number in the same slot (0 = end of chain)
//
// Concurrency: one mutex; the dispatcher adds, queries read.
//
// Durability: the newest file is msynced in the flush pass before the checkpoint is written, so
// records below the checkpoint's index offset are indexed durably. After a crash the newest file
// may hold torn entries past that offset; it is sealed (kept for lookups, never written again) and
// re-indexing continues in a new file. Lookups verify every hit against the record itself, so a
// torn entry can only make a lookup miss in the sealed file, never return a wrong message.
type keyIndex struct {
	dir      string
	slots    int
	maxIndex int
	log      *slog.Logger
	fs       vfs.FS
	now      func() time.Time

	mu     sync.RWMutex
	files  []*indexFile // oldest first; the last one is written unless sealed
	sealed bool         // the newest file is not written any more (crash recovery)

	// prefault, when set (Config.WarmMappedFile), pre-faults a new file's slot table and the
	// entries ahead of the writer, a chunk at a time, so the dispatcher takes no page fault per
	// 204 entries; the cost is counted in the store's meter.
	prefault *prefaultMeter
}

// indexWarmChunk is how far ahead of the next entry the entries region is kept pre-faulted.
const indexWarmChunk = 1 << 20

type indexFile struct {
	path string
	f    vfs.File
	data []byte
}

const indexHeaderSize = 40

func (x *keyIndex) fileSize() int64 {
	return indexHeaderSize + int64(x.slots)*4 + int64(x.maxIndex)*20
}

func openKeyIndex(fsys vfs.FS, root string, slots, maxIndex int, log *slog.Logger, now func() time.Time) (*keyIndex, error) {
	if slots <= 0 {
		slots = 5000000
	}
	if maxIndex <= 0 {
		maxIndex = 20000000
	}
	x := &keyIndex{dir: filepath.Join(root, "index"), slots: slots, maxIndex: maxIndex, log: log, fs: fsys, now: now}
	entries, err := fsys.ReadDir(x.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && len(e.Name()) == 17 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := x.mapFile(filepath.Join(x.dir, n))
		if err != nil {
			// The index is derived data: a file that cannot be used is set aside (renamed, never
			// deleted) and lookups simply miss what it held.
			x.log.Warn("index file unusable; renamed to .bad", "file", n, "err", err)
			_ = fsys.Rename(filepath.Join(x.dir, n), filepath.Join(x.dir, n+".bad"))
			continue
		}
		x.files = append(x.files, f)
	}
	return x, nil
}

func (x *keyIndex) mapFile(path string) (*indexFile, error) {
	f, err := x.fs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return nil, err
	}
	if size != x.fileSize() {
		if size != 0 {
			f.Close()
			return nil, fmt.Errorf("index file %s has %d bytes, want %d", path, size, x.fileSize())
		}
		// Preallocate (never a sparse file: a write into a hole on a full disk is SIGBUS), and make
		// the size and the name durable before the file is used.
		if err := sizeFile(f, x.fileSize()); err != nil {
			f.Close()
			_ = x.fs.Remove(path)
			return nil, fmt.Errorf("commitlog: preallocate index file %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("commitlog: sync index file %s: %w", path, err)
		}
		if err := x.fs.SyncDir(x.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("commitlog: sync folder %s: %w", x.dir, err)
		}
	}
	data, err := f.Map()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &indexFile{path: path, f: f, data: data}, nil
}

func (f *indexFile) i64(pos int) int64      { return int64(binary.BigEndian.Uint64(f.data[pos:])) }
func (f *indexFile) i32(pos int) int32      { return int32(binary.BigEndian.Uint32(f.data[pos:])) }
func (f *indexFile) put64(pos int, v int64) { binary.BigEndian.PutUint64(f.data[pos:], uint64(v)) }
func (f *indexFile) put32(pos int, v int32) { binary.BigEndian.PutUint32(f.data[pos:], uint32(v)) }
func (f *indexFile) beginTs() int64         { return f.i64(0) }
func (f *indexFile) endTs() int64           { return f.i64(8) }
func (f *indexFile) beginPhy() int64        { return f.i64(16) }
func (f *indexFile) endPhy() int64          { return f.i64(24) }
func (f *indexFile) count() int32           { return max(f.i32(36), 1) }

func (f *indexFile) close() { _ = f.f.Close() }

func (f *indexFile) msync() error { return f.f.Msync(0, int64(len(f.data))) }

func keyHash(k string) int32 { return absHash(message.HashString(0, k)) }

// keyHashOf is keyHash(topic + "#" + string(key)) without building the string.
func keyHashOf(topic string, key []byte) int32 {
	return absHash(message.HashBytes(31*message.HashString(0, topic)+'#', key))
}

// absHash is RocketMQ's index slot hash: |h|, with MinInt32 mapped to 0.
func absHash(h int32) int32 {
	if h < 0 {
		if h == -h { // math.MinInt32
			return 0
		}
		h = -h
	}
	return h
}

// add indexes a record's UNIQ_KEY and KEYS entries (keys: the KEYS property, space-separated;
// uniq: UNIQ_KEY; both slices of the record, nil when absent). Records at or below the newest
// file's end offset are already indexed and skipped.
func (x *keyIndex) add(topic string, keysProp, uniq []byte, clOffset, storeTs int64) {
	if len(keysProp) == 0 && len(uniq) == 0 {
		return
	}
	var buf [8][]byte
	keys := appendFields(buf[:0], keysProp)
	if len(uniq) > 0 {
		keys = append(keys, uniq)
	}
	if len(keys) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if n := len(x.files); n > 0 && !x.sealed {
		last := x.files[n-1]
		if last.count() > 1 && clOffset <= last.endPhy() {
			return
		}
	}
	for _, k := range keys {
		f, err := x.writableLocked(len(keys))
		if err != nil {
			x.log.Error("index file not available; message not indexed", "offset", clOffset, "err", err)
			return
		}
		x.putLocked(f, keyHashOf(topic, k), clOffset, storeTs)
	}
}

// writableLocked returns the newest file, creating one when it is full or missing.
func (x *keyIndex) writableLocked(need int) (*indexFile, error) {
	if n := len(x.files); n > 0 && !x.sealed && int(x.files[n-1].count())+need <= x.maxIndex {
		return x.files[n-1], nil
	}
	if err := x.fs.MkdirAll(x.dir, 0o755); err != nil {
		return nil, err
	}
	if n := len(x.files); n > 0 && !x.sealed {
		if err := x.files[n-1].msync(); err != nil {
			return nil, fmt.Errorf("commitlog: flush full index file: %w", err)
		}
	}
	name := x.now().Format("20060102150405.000")
	name = name[:14] + name[15:]
	for _, f := range x.files {
		if filepath.Base(f.path) >= name { // keep names increasing
			name = fmt.Sprintf("%017d", mustAtoi(filepath.Base(f.path))+1)
		}
	}
	f, err := x.mapFile(filepath.Join(x.dir, name))
	if err != nil {
		return nil, err
	}
	if x.prefault != nil {
		// The slot table is written at random places: fault it in at once (best effort).
		_ = x.prefault.populate(f.data[:indexHeaderSize+x.slots*4])
	}
	x.files = append(x.files, f)
	x.sealed = false
	return f, nil
}

// seal stops writes to the newest file; the next add starts a new one.
func (x *keyIndex) seal() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.files) > 0 {
		x.sealed = true
	}
}

func mustAtoi(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

func (x *keyIndex) putLocked(f *indexFile, h int32, phy, ts int64) {
	slotPos := indexHeaderSize + int(h%int32(x.slots))*4
	count := f.count()
	prev := f.i32(slotPos)
	if prev <= 0 || prev >= count {
		prev = 0
	}
	if count == 1 {
		f.put64(0, ts)
		f.put64(16, phy)
	}
	diff := (ts - f.beginTs()) / 1000
	diff = min(max(diff, 0), 1<<31-1)
	e := indexHeaderSize + x.slots*4 + int(count)*20
	if x.prefault != nil && (count == 1 || e/indexWarmChunk != (e-20)/indexWarmChunk) {
		// Entering a new chunk: fault in the next one; at the file's first entry, the rest of
		// this chunk and the next. Best effort (a failure leaves the pages to fault on write).
		from, to := (e/indexWarmChunk+1)*indexWarmChunk, (e/indexWarmChunk+2)*indexWarmChunk
		if count == 1 {
			from = e &^ (pageSize - 1)
		}
		to = min(to, len(f.data))
		if from < to {
			_ = x.prefault.populate(f.data[from:to])
		}
	}
	f.put32(e, h)
	f.put64(e+4, phy)
	f.put32(e+12, int32(diff))
	f.put32(e+16, prev)
	f.put32(slotPos, count)
	if prev == 0 {
		f.put32(32, f.i32(32)+1)
	}
	f.put32(36, count+1)
	f.put64(8, ts)
	f.put64(24, phy)
}

// appendFields appends the space-separated fields of b (strings.Fields' rule: Unicode white
// space) to dst.
func appendFields(dst [][]byte, b []byte) [][]byte {
	for len(b) > 0 {
		i := bytes.IndexFunc(b, func(r rune) bool { return !unicode.IsSpace(r) })
		if i < 0 {
			break
		}
		b = b[i:]
		j := bytes.IndexFunc(b, unicode.IsSpace)
		if j < 0 {
			j = len(b)
		}
		dst = append(dst, b[:j])
		b = b[j:]
	}
	return dst
}

// lookup walks the chains of key in files overlapping [begin, end], newest first.
func (x *keyIndex) lookup(topic, key string, maxNum int, begin, end int64) ([]int64, int64, int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	h := keyHash(topic + "#" + key)
	var out []int64
	var lastTs, lastPhy int64
	if n := len(x.files); n > 0 {
		lastTs, lastPhy = x.files[n-1].endTs(), x.files[n-1].endPhy()
	}
	for i := len(x.files) - 1; i >= 0 && len(out) < maxNum; i-- {
		f := x.files[i]
		count := f.count()
		if count <= 1 || f.endTs() < begin || f.beginTs() > end {
			continue
		}
		cur := f.i32(indexHeaderSize + int(h%int32(x.slots))*4)
		for steps := int32(0); cur > 0 && cur < count && steps < count && len(out) < maxNum; steps++ {
			e := indexHeaderSize + x.slots*4 + int(cur)*20
			ts := f.beginTs() + int64(f.i32(e+12))*1000
			if f.i32(e) == h && ts >= begin-1000 && ts <= end {
				out = append(out, f.i64(e+4))
			}
			next := f.i32(e + 16)
			if next >= cur {
				break
			}
			cur = next
		}
	}
	return out, lastTs, lastPhy
}

// dropBelow deletes index files whose entries all point below off (retention).
func (x *keyIndex) dropBelow(off int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for len(x.files) > 1 && x.files[0].endPhy() < off {
		f := x.files[0]
		f.close()
		_ = x.fs.Remove(f.path)
		x.files = x.files[1:]
	}
}

// endPhy is the newest indexed offset (-1 when nothing is indexed).
func (x *keyIndex) endPhy() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if n := len(x.files); n > 0 && x.files[n-1].count() > 1 {
		return x.files[n-1].endPhy()
	}
	return -1
}

func (x *keyIndex) flush() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if n := len(x.files); n > 0 && !x.sealed {
		if err := x.files[n-1].msync(); err != nil {
			return fmt.Errorf("commitlog: flush index: %w", err)
		}
	}
	return nil
}

func (x *keyIndex) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, f := range x.files {
		f.close()
	}
	x.files = nil
}
