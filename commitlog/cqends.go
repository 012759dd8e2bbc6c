package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"

	"github.com/skiffmq/skiff/commitlog/vfs"
)

// The consume-queue ends file (<root>/consumequeue/.ends) is written at a clean Close, after
// everything is flushed and just before the clean checkpoint, and read at the next clean open: it
// names each queue's end so that Open touches two entries per queue instead of binary-searching
// its last file (each probe of a cold file is a page fault: about 20 random reads per queue).
// It is a hint: it is used only when its checkpoint sequence number is the clean checkpoint's,
// and only for a queue whose entry before the hinted end is valid and whose entry at it is empty.
//
//	offset size field (big-endian)
//	     0    4 magic 0x534B4345 ("SKCE")
//	     4    8 sequence number of the clean checkpoint written after it
//	    12    4 number of queues n
//	  then n times: 2 topic length, topic, 4 queue id, 8 max offset
//	  last 4    CRC-32 (IEEE) of everything before it
const cqEndsMagic = 0x534B4345

func cqEndsPath(root string) string { return filepath.Join(root, "consumequeue", ".ends") }

func encodeCQEnds(seq uint64, ends map[queueKey]int64) []byte {
	keys := make([]queueKey, 0, len(ends))
	for k := range ends {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].queueID < keys[j].queueID
	})
	b := binary.BigEndian.AppendUint32(nil, cqEndsMagic)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint16(b, uint16(len(k.topic)))
		b = append(b, k.topic...)
		b = binary.BigEndian.AppendUint32(b, uint32(k.queueID))
		b = binary.BigEndian.AppendUint64(b, uint64(ends[k]))
	}
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// decodeCQEnds parses the file; it never panics on arbitrary bytes.
func decodeCQEnds(b []byte) (uint64, map[queueKey]int64, error) {
	bad := errors.New("commitlog: invalid consume-queue ends file")
	if len(b) < 20 || binary.BigEndian.Uint32(b) != cqEndsMagic ||
		binary.BigEndian.Uint32(b[len(b)-4:]) != crc32.ChecksumIEEE(b[:len(b)-4]) {
		return 0, nil, bad
	}
	seq := binary.BigEndian.Uint64(b[4:])
	n := int(binary.BigEndian.Uint32(b[12:]))
	p, end := 16, len(b)-4
	out := make(map[queueKey]int64, min(n, 1<<16))
	for i := 0; i < n; i++ {
		if p+2 > end {
			return 0, nil, bad
		}
		tl := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		if p+tl+12 > end {
			return 0, nil, bad
		}
		k := queueKey{string(b[p : p+tl]), int32(binary.BigEndian.Uint32(b[p+tl:]))}
		out[k] = int64(binary.BigEndian.Uint64(b[p+tl+4:]))
		p += tl + 12
	}
	if p != end {
		return 0, nil, bad
	}
	return seq, out, nil
}

// writeCQEnds writes the file durably (temporary file, fsync, rename, folder fsync).
func writeCQEnds(fsys vfs.FS, root string, seq uint64, ends map[queueKey]int64) error {
	path := cqEndsPath(root)
	if err := fsys.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := fsys.OpenFile(path+".tmp", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(encodeCQEnds(seq, ends), 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(path+".tmp", path)
	}
	if err == nil {
		err = fsys.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("commitlog: write %s: %w", path, err)
	}
	return nil
}

// readCQEnds returns the hints if the file belongs to the clean checkpoint seq (else nil).
func readCQEnds(fsys vfs.FS, root string, seq uint64) map[queueKey]int64 {
	f, err := fsys.OpenFile(cqEndsPath(root), os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil || size > 64<<20 {
		return nil
	}
	b := make([]byte, size)
	if n, _ := f.ReadAt(b, 0); int64(n) != size {
		return nil
	}
	s, ends, err := decodeCQEnds(b)
	if err != nil || s != seq {
		return nil
	}
	return ends
}
