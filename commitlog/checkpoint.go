package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/skiffmq/skiff/commitlog/vfs"
)

// The checkpoint file (<root>/checkpoint, 4096 bytes) says how far the durable files reach, so
// that recovery looks only at what lies past it. It holds two slots, at byte 0 and at byte 2048
// (different disk sectors); each write goes to the slot after the newest one and is fsynced, so
// a torn write leaves the other slot intact. Recovery uses the valid slot with the highest
// sequence number.
//
//	slot (80 bytes), big-endian
//	offset size field
//	     0    4 magic 0x534B4350 ("SKCP")
//	     4    4 version (1)
//	     8    8 sequence number
//	    16    8 physicMsgTimestamp: store time of the last flushed commit-log record
//	    24    8 logicsMsgTimestamp: store time of the last record in the durable consume queues
//	    32    8 indexMsgTimestamp: store time of the last record in the durable index
//	    40    8 flushedPhyOffset: the commit log is durable below this offset
//	    48    8 consumeQueuePhyOffset: every record below it has a durable consume-queue entry
//	    56    8 indexPhyOffset: every record below it is in a durable index file
//	    64    8 minPhyOffset: the first commit-log offset still stored
//	    72    4 flags: bit 0 = written by a clean shutdown (nothing past flushedPhyOffset)
//	    76    4 CRC-32 (IEEE) of bytes 0..75
//
// The three timestamps are RocketMQ's checkpoint fields (§4.5); the offsets are Skiff's. The
// checkpoint is written after each pass of the consume-queue flush (FlushIntervalConsumeQueue),
// after recovery and at Close. A file of the earlier Skiff format (the dispatched offset at byte
// 40, nothing else) is read as a crashed checkpoint with that offset.
const (
	checkpointSize     = 4096
	checkpointSlotSize = 80
	checkpointMagic    = 0x534B4350
	checkpointVersion  = 1
	checkpointSlot2    = 2048
	ckFlagClean        = 1
)

// ErrBadCheckpoint is returned by decodeCheckpoint for bytes that are not a checkpoint slot.
var ErrBadCheckpoint = errors.New("commitlog: invalid checkpoint slot")

// checkpointState is the content of one checkpoint slot.
type checkpointState struct {
	Seq                                   uint64
	PhysicTs, LogicsTs, IndexTs           int64
	Flushed, ConsumeQueue, Index, MinPhys int64
	Clean                                 bool
}

func encodeCheckpoint(c checkpointState) []byte {
	b := make([]byte, checkpointSlotSize)
	be := binary.BigEndian
	be.PutUint32(b[0:], checkpointMagic)
	be.PutUint32(b[4:], checkpointVersion)
	be.PutUint64(b[8:], c.Seq)
	for i, v := range []int64{c.PhysicTs, c.LogicsTs, c.IndexTs, c.Flushed, c.ConsumeQueue, c.Index, c.MinPhys} {
		be.PutUint64(b[16+8*i:], uint64(v))
	}
	if c.Clean {
		be.PutUint32(b[72:], ckFlagClean)
	}
	be.PutUint32(b[76:], crc32.ChecksumIEEE(b[:76]))
	return b
}

// decodeCheckpoint parses one slot; it never panics on arbitrary bytes.
func decodeCheckpoint(b []byte) (checkpointState, error) {
	var c checkpointState
	if len(b) < checkpointSlotSize {
		return c, fmt.Errorf("%w: %d bytes", ErrBadCheckpoint, len(b))
	}
	be := binary.BigEndian
	if be.Uint32(b) != checkpointMagic || be.Uint32(b[4:]) != checkpointVersion {
		return c, fmt.Errorf("%w: bad magic or version", ErrBadCheckpoint)
	}
	if be.Uint32(b[76:]) != crc32.ChecksumIEEE(b[:76]) {
		return c, fmt.Errorf("%w: bad CRC", ErrBadCheckpoint)
	}
	c.Seq = be.Uint64(b[8:])
	v := make([]int64, 7)
	for i := range v {
		v[i] = int64(be.Uint64(b[16+8*i:]))
		if i >= 3 && v[i] < 0 {
			return c, fmt.Errorf("%w: negative offset", ErrBadCheckpoint)
		}
	}
	c.PhysicTs, c.LogicsTs, c.IndexTs, c.Flushed, c.ConsumeQueue, c.Index, c.MinPhys = v[0], v[1], v[2], v[3], v[4], v[5], v[6]
	c.Clean = be.Uint32(b[72:])&ckFlagClean != 0
	if c.ConsumeQueue > c.Flushed || c.Index > c.Flushed || c.MinPhys > c.Flushed {
		return c, fmt.Errorf("%w: offsets past the flushed offset", ErrBadCheckpoint)
	}
	return c, nil
}

// parseCheckpointFile picks the newest valid slot of a checkpoint file's bytes. ok is false when
// neither slot is valid; legacy is then the earlier format's dispatched offset (0 if none).
func parseCheckpointFile(b []byte) (st checkpointState, ok bool, legacy int64) {
	for _, at := range []int{0, checkpointSlot2} {
		if at+checkpointSlotSize > len(b) {
			continue
		}
		if c, err := decodeCheckpoint(b[at : at+checkpointSlotSize]); err == nil && (!ok || c.Seq > st.Seq) {
			st, ok = c, true
		}
	}
	if !ok && len(b) >= 48 && isZero(b[:40]) {
		if v := int64(binary.BigEndian.Uint64(b[40:])); v > 0 {
			legacy = v
		}
	}
	return st, ok, legacy
}

// checkpoint is the open checkpoint file.
type checkpoint struct {
	f    vfs.File
	path string
	last checkpointState
}

func openCheckpoint(fsys vfs.FS, root string) (*checkpoint, checkpointState, bool, int64, error) {
	path := filepath.Join(root, "checkpoint")
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, checkpointState{}, false, 0, fmt.Errorf("commitlog: open checkpoint: %w", err)
	}
	buf := make([]byte, checkpointSize)
	n, _ := f.ReadAt(buf, 0)
	st, ok, legacy := parseCheckpointFile(buf[:n])
	if size, err := f.Size(); err == nil && size < checkpointSize {
		if err := f.Truncate(checkpointSize); err != nil {
			f.Close()
			return nil, st, ok, legacy, fmt.Errorf("commitlog: size checkpoint: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, st, ok, legacy, fmt.Errorf("commitlog: sync checkpoint: %w", err)
		}
		if err := fsys.SyncDir(root); err != nil {
			f.Close()
			return nil, st, ok, legacy, fmt.Errorf("commitlog: sync folder %s: %w", root, err)
		}
	}
	return &checkpoint{f: f, path: path, last: st}, st, ok, legacy, nil
}

// save writes the next slot and fsyncs it.
func (c *checkpoint) save(st checkpointState) error {
	st.Seq = c.last.Seq + 1
	at := int64(0)
	if st.Seq%2 == 0 {
		at = checkpointSlot2
	}
	if _, err := c.f.WriteAt(encodeCheckpoint(st), at); err != nil {
		return fmt.Errorf("commitlog: write checkpoint %s: %w", c.path, err)
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("commitlog: sync checkpoint %s: %w", c.path, err)
	}
	c.last = st
	return nil
}

func (c *checkpoint) close() {
	if c != nil && c.f != nil {
		_ = c.f.Close()
		c.f = nil
	}
}
