package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// fallocateFn preallocates a file; tests replace it (setFallocate) to inject ENOSPC: the
// disk-full seam.
var fallocateFn atomic.Value

func init() { fallocateFn.Store(unix.Fallocate) }

func fallocate(fd int, mode uint32, off, size int64) error {
	return fallocateFn.Load().(func(int, uint32, int64, int64) error)(fd, mode, off, size)
}

// setFallocate replaces the preallocation function and returns the previous one.
func setFallocate(fn func(int, uint32, int64, int64) error) func(int, uint32, int64, int64) error {
	return fallocateFn.Swap(fn).(func(int, uint32, int64, int64) error)
}

// segment is one fixed-size file mapped read-write. Its name is its start offset, 20 digits.
// The file is preallocated with fallocate before it is mapped, so a full disk surfaces as an
// error when the segment is created, never as SIGBUS on a write into a hole.
type segment struct {
	start int64
	size  int64
	path  string
	file  *os.File
	data  mmap.MMap
}

func segmentName(start int64) string { return fmt.Sprintf("%020d", start) }

// openSegment maps an existing segment file or creates and preallocates a new one.
func openSegment(dir string, start, size int64) (*segment, error) {
	path := filepath.Join(dir, segmentName(start))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("commitlog: open segment %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("commitlog: stat segment %s: %w", path, err)
	}
	if st.Size() != size {
		if st.Size() > size {
			f.Close()
			return nil, fmt.Errorf("commitlog: segment %s has %d bytes, the configured size is %d", path, st.Size(), size)
		}
		if err := fallocate(int(f.Fd()), 0, 0, size); err != nil {
			if !errors.Is(err, unix.EOPNOTSUPP) {
				f.Close()
				_ = os.Remove(path)
				return nil, fmt.Errorf("commitlog: preallocate segment %s (%d bytes): %w", path, size, err)
			}
			if err := f.Truncate(size); err != nil {
				f.Close()
				return nil, fmt.Errorf("commitlog: size segment %s: %w", path, err)
			}
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("commitlog: sync segment %s: %w", path, err)
		}
		syncDir(dir)
	}
	data, err := mmap.Map(f, mmap.RDWR, 0)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("commitlog: map segment %s: %w", path, err)
	}
	return &segment{start: start, size: size, path: path, file: f, data: data}, nil
}

// msync is the sync call used by flushRange; tests replace it (setMsync) to slow flushes down.
var msyncFn atomic.Value

func init() { msyncFn.Store(unix.Msync) }

func setMsync(fn func([]byte, int) error) func([]byte, int) error {
	return msyncFn.Swap(fn).(func([]byte, int) error)
}

// flushRange makes bytes [from, to) of the segment (segment-relative) durable.
func (s *segment) flushRange(from, to int64) error {
	if to <= from {
		return nil
	}
	page := int64(os.Getpagesize())
	from -= from % page
	if err := msyncFn.Load().(func([]byte, int) error)(s.data[from:to], unix.MS_SYNC); err != nil {
		return fmt.Errorf("commitlog: msync %s: %w", s.path, err)
	}
	return nil
}

func (s *segment) close() error {
	err := s.data.Unmap()
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *segment) remove() error {
	if err := s.close(); err != nil {
		return err
	}
	return os.Remove(s.path)
}

// listSegments returns the start offsets of the segment files in dir, ascending.
func listSegments(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
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

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
