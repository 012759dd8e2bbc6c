package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/skiffmq/skiff/commitlog/vfs"
)

// segment is one fixed-size file mapped read-write. Its name is its start offset, 20 digits.
// A new file is preallocated (vfs.File.Allocate, fallocate on Linux) and fsynced, and its folder
// synced, before it is mapped, so a full disk surfaces as an error when the segment is created,
// never as SIGBUS on a write into a hole, and the file and its size survive a power loss.
type segment struct {
	start int64
	size  int64
	path  string
	file  vfs.File
	data  []byte
}

func segmentName(start int64) string { return fmt.Sprintf("%020d", start) }

// openSegment maps an existing segment file or creates and preallocates a new one.
func openSegment(fsys vfs.FS, dir string, start, size int64) (*segment, error) {
	path := filepath.Join(dir, segmentName(start))
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("commitlog: open segment %s: %w", path, err)
	}
	have, err := f.Size()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("commitlog: stat segment %s: %w", path, err)
	}
	if have != size {
		if have > size {
			f.Close()
			return nil, fmt.Errorf("commitlog: segment %s has %d bytes, the configured size is %d", path, have, size)
		}
		if err := sizeFile(f, size); err != nil {
			f.Close()
			if have == 0 {
				_ = fsys.Remove(path)
			}
			return nil, fmt.Errorf("commitlog: preallocate segment %s (%d bytes): %w", path, size, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("commitlog: sync segment %s: %w", path, err)
		}
		if err := fsys.SyncDir(dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("commitlog: sync folder %s: %w", dir, err)
		}
	}
	data, err := f.Map()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("commitlog: map segment %s: %w", path, err)
	}
	return &segment{start: start, size: size, path: path, file: f, data: data}, nil
}

// sizeFile preallocates a file to size bytes, falling back to Truncate where the file system
// cannot preallocate.
func sizeFile(f vfs.File, size int64) error {
	err := f.Allocate(0, size)
	if errors.Is(err, vfs.ErrUnsupported) {
		err = f.Truncate(size)
	}
	return err
}

// flushRange makes bytes [from, to) of the segment (segment-relative) durable.
func (s *segment) flushRange(from, to int64) error {
	if to <= from {
		return nil
	}
	if err := s.file.Msync(from, to-from); err != nil {
		return fmt.Errorf("commitlog: msync %s [%d, %d): %w", s.path, from, to, err)
	}
	return nil
}

// zeroFrom makes everything from off (segment-relative) to the end read as zeros, durably.
func (s *segment) zeroFrom(off int64) error {
	if off >= s.size {
		return nil
	}
	if err := s.file.ZeroRange(off, s.size-off); err != nil {
		return fmt.Errorf("commitlog: zero %s from %d: %w", s.path, off, err)
	}
	if err := s.file.Msync(off, s.size-off); err != nil {
		return fmt.Errorf("commitlog: msync %s: %w", s.path, err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("commitlog: sync %s: %w", s.path, err)
	}
	return nil
}

func (s *segment) close() error { return s.file.Close() }

func (s *segment) remove(fsys vfs.FS) error {
	if err := s.close(); err != nil {
		return err
	}
	if err := fsys.Remove(s.path); err != nil {
		return err
	}
	return fsys.SyncDir(filepath.Dir(s.path))
}

// listSegments returns the start offsets of the segment files in dir, ascending.
func listSegments(fsys vfs.FS, dir string) ([]int64, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	var out []int64
	for _, e := range entries {
		if e.IsDir() || len(e.Name()) != 20 {
			continue
		}
		n, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}
