package controller

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/skiffmq/skiff/internal/atomicfile"
	"github.com/skiffmq/skiff/internal/controlapi"
)

// ErrBadEpochFile is returned for an epoch file that cannot be read.
var ErrBadEpochFile = errors.New("controller: bad epoch file")

// maxEpochLines bounds what DecodeEpochFile accepts.
const maxEpochLines = 1 << 16

// DecodeEpochFile parses epoch-file text: strictly increasing epochs ≥ 1, non-decreasing start
// offsets ≥ 0. Blank lines are ignored.
func DecodeEpochFile(b []byte) ([]controlapi.EpochEntry, error) {
	var out []controlapi.EpochEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 256), 1<<16)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: line %d %q: want \"epoch startOffset\"", ErrBadEpochFile, line, text)
		}
		epoch, err1 := strconv.ParseInt(f[0], 10, 64)
		start, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || epoch < 1 || start < 0 {
			return nil, fmt.Errorf("%w: line %d %q: want a positive epoch and an offset ≥ 0", ErrBadEpochFile, line, text)
		}
		if n := len(out); n > 0 && (epoch <= out[n-1].Epoch || start < out[n-1].StartOffset) {
			return nil, fmt.Errorf("%w: line %d %q does not follow epoch %d at %d", ErrBadEpochFile, line, text, out[n-1].Epoch, out[n-1].StartOffset)
		}
		if len(out) == maxEpochLines {
			return nil, fmt.Errorf("%w: more than %d lines", ErrBadEpochFile, maxEpochLines)
		}
		out = append(out, controlapi.EpochEntry{Epoch: epoch, StartOffset: start})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEpochFile, err)
	}
	return out, nil
}

// EncodeEpochFile is the text DecodeEpochFile reads.
func EncodeEpochFile(entries []controlapi.EpochEntry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b.Bytes()
}

// EpochFile is the crash-safe epoch file of one broker. Its methods are safe for concurrent use.
type EpochFile struct {
	path    string
	mu      sync.Mutex
	entries []controlapi.EpochEntry
}

// OpenEpochFile reads path (a missing file is an empty one). A damaged file falls back to its
// backup (atomicfile.Load): an older epoch file can only make a later truncation cut more, which
// replication copies back, never keep a divergent tail.
func OpenEpochFile(path string, log *slog.Logger) (*EpochFile, error) {
	var entries []controlapi.EpochEntry
	err := atomicfile.Load(path, func(b []byte) error {
		var err error
		entries, err = DecodeEpochFile(b)
		return err
	}, log)
	if err != nil && !errors.Is(err, atomicfile.ErrNotFound) {
		return nil, fmt.Errorf("controller: %s: %w", path, err)
	}
	return &EpochFile{path: path, entries: entries}, nil
}

// Entries returns a copy of the lines.
func (f *EpochFile) Entries() []controlapi.EpochEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]controlapi.EpochEntry(nil), f.entries...)
}

// LastEpoch is the newest epoch in the file (0 when empty).
func (f *EpochFile) LastEpoch() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) == 0 {
		return 0
	}
	return f.entries[len(f.entries)-1].Epoch
}

// StartEpoch records that this replica, master of epoch, writes from start on: lines of epochs
// without bytes in this log (start offset ≥ start) are dropped first. An epoch not newer than the
// last one is refused.
func (f *EpochFile) StartEpoch(epoch, start int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	keep := f.entries[:0:0]
	for _, e := range f.entries {
		if e.StartOffset < start {
			keep = append(keep, e)
		}
	}
	if n := len(keep); n > 0 && keep[n-1].Epoch >= epoch {
		return fmt.Errorf("controller: epoch %d is not newer than epoch %d in %s", epoch, keep[n-1].Epoch, f.path)
	}
	keep = append(keep, controlapi.EpochEntry{Epoch: epoch, StartOffset: start})
	return f.writeLocked(keep)
}

// Replace makes the file hold entries (a slave copying its master's lines).
func (f *EpochFile) Replace(entries []controlapi.EpochEntry) error {
	if _, err := DecodeEpochFile(EncodeEpochFile(entries)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeLocked(append([]controlapi.EpochEntry(nil), entries...))
}

func (f *EpochFile) writeLocked(entries []controlapi.EpochEntry) error {
	if err := atomicfile.Write(f.path, EncodeEpochFile(entries), 0o644); err != nil {
		return err
	}
	f.entries = entries
	return nil
}
