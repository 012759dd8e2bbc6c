// Package vfs is the file-system seam of the commit-log store: every file operation the store
// performs (open, size, allocate, zero, map, msync, fsync, rename, remove, stat, directory
// sync) goes through an FS, so tests can replace the disk.
//
// Three implementations:
//   - Default: the operating system (mmap through edsrzf/mmap-go, fallocate, msync, fsync).
//   - NewMem: an in-memory FS that simulates power loss. A "mapping" is the file's page cache
//     (a heap buffer); Msync and Sync copy bytes into a durable image, SyncDir makes the names
//     in a folder durable, and Crash throws away everything that was not made durable: files
//     reopened afterwards see only synced bytes, and handles opened before the crash fail.
//   - NewErrorFS: wraps another FS and injects errors chosen by a function of the operation
//     and path (EIO on msync, ENOSPC on allocate, short writes...).
//
// Lifetime rule (as for any mmap): a slice returned by File.Map must not be used after
// File.Unmap or File.Close.
package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// ErrUnsupported is returned by File.Allocate when the file system cannot preallocate; the
// caller then sizes the file with Truncate.
var ErrUnsupported = errors.New("vfs: operation not supported by the file system")

// FS is the set of file-system operations the store uses.
type FS interface {
	// OpenFile opens a file like os.OpenFile (flags O_RDWR, O_CREATE, O_TRUNC, O_EXCL).
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldpath, newpath string) error
	MkdirAll(dir string, perm os.FileMode) error
	ReadDir(dir string) ([]fs.DirEntry, error)
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes the names in dir (created, renamed, removed files) durable.
	SyncDir(dir string) error
}

// File is an open file.
type File interface {
	Name() string
	Size() (int64, error)
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	// Allocate reserves [off, off+size) on disk (fallocate mode 0), growing the file: a full disk
	// is reported here instead of as SIGBUS on a later write through a mapping. ErrUnsupported
	// when the file system cannot.
	Allocate(off, size int64) error
	// ZeroRange makes [off, off+size) read as zeros and stay allocated, without writing every
	// byte where the file system can (FALLOC_FL_ZERO_RANGE). The change is durable after Sync.
	ZeroRange(off, size int64) error
	// Map maps the whole file read-write and shared. A file has at most one mapping.
	Map() ([]byte, error)
	// Msync makes bytes [off, off+size) of the mapping durable.
	Msync(off, size int64) error
	Unmap() error
	// Sync is fsync: data and metadata (size) durable.
	Sync() error
	// Close unmaps (if mapped) and closes.
	Close() error
}

// Default is the operating system's file system.
var Default FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &osFile{f: f}, nil
}
func (osFS) Remove(name string) error                    { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                 { return os.RemoveAll(name) }
func (osFS) Rename(o, n string) error                    { return os.Rename(o, n) }
func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }
func (osFS) ReadDir(dir string) ([]fs.DirEntry, error)   { return os.ReadDir(dir) }
func (osFS) Stat(name string) (os.FileInfo, error)       { return os.Stat(name) }
func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

type osFile struct {
	f *os.File
	m mmap.MMap
}

func (o *osFile) Name() string { return o.f.Name() }
func (o *osFile) Size() (int64, error) {
	st, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
func (o *osFile) ReadAt(p []byte, off int64) (int, error)  { return o.f.ReadAt(p, off) }
func (o *osFile) WriteAt(p []byte, off int64) (int, error) { return o.f.WriteAt(p, off) }
func (o *osFile) Truncate(size int64) error                { return o.f.Truncate(size) }
func (o *osFile) Sync() error                              { return o.f.Sync() }

func (o *osFile) Allocate(off, size int64) error {
	err := unix.Fallocate(int(o.f.Fd()), 0, off, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return ErrUnsupported
	}
	return err
}

func (o *osFile) ZeroRange(off, size int64) error {
	if size <= 0 {
		return nil
	}
	page := int64(os.Getpagesize())
	lo := (off + page - 1) / page * page
	hi := (off + size) / page * page
	if hi <= lo { // less than a page: write the zeros
		return o.zeroBytes(off, size)
	}
	if err := o.zeroBytes(off, lo-off); err != nil {
		return err
	}
	if err := o.zeroBytes(hi, off+size-hi); err != nil {
		return err
	}
	fd := int(o.f.Fd())
	err := unix.Fallocate(fd, unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, lo, hi-lo)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("vfs: zero range of %s: %w", o.f.Name(), err)
	}
	// tmpfs and others: punch a hole and allocate it again (no sparse file left behind).
	if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, lo, hi-lo); err == nil {
		if err := unix.Fallocate(fd, 0, lo, hi-lo); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("vfs: reallocate zeroed range of %s: %w", o.f.Name(), err)
		}
		return nil
	}
	return o.zeroBytes(lo, hi-lo)
}

// zeroBytes writes zeros through the mapping when there is one, else with WriteAt.
func (o *osFile) zeroBytes(off, size int64) error {
	if size <= 0 {
		return nil
	}
	if o.m != nil && off+size <= int64(len(o.m)) {
		clear(o.m[off : off+size])
		return nil
	}
	buf := make([]byte, min(size, 1<<20))
	for size > 0 {
		n := min(size, int64(len(buf)))
		if _, err := o.f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += n
		size -= n
	}
	return nil
}

func (o *osFile) Map() ([]byte, error) {
	if o.m != nil {
		return nil, errors.New("vfs: file is already mapped")
	}
	m, err := mmap.Map(o.f, mmap.RDWR, 0)
	if err != nil {
		return nil, err
	}
	o.m = m
	return m, nil
}

func (o *osFile) Msync(off, size int64) error {
	if o.m == nil {
		return errors.New("vfs: msync of a file that is not mapped")
	}
	if size <= 0 {
		return nil
	}
	page := int64(os.Getpagesize())
	from := off - off%page
	to := min(off+size, int64(len(o.m)))
	return unix.Msync(o.m[from:to], unix.MS_SYNC)
}

func (o *osFile) Unmap() error {
	if o.m == nil {
		return nil
	}
	err := o.m.Unmap()
	o.m = nil
	return err
}

func (o *osFile) Close() error {
	err := o.Unmap()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}
