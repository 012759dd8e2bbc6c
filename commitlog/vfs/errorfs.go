package vfs

import (
	"io"
	"io/fs"
	"os"
	"sync/atomic"
)

// Op names an operation for error injection.
type Op string

// Operations an ErrorFS can fail.
const (
	OpOpen     Op = "open"
	OpAllocate Op = "allocate"
	OpTruncate Op = "truncate"
	OpZero     Op = "zero"
	OpMap      Op = "map"
	OpMsync    Op = "msync"
	OpSync     Op = "sync"
	OpWrite    Op = "write"
	OpRename   Op = "rename"
	OpRemove   Op = "remove"
	OpSyncDir  Op = "syncdir"
)

// Injector decides the error for one operation on a path (nil: let it through). For OpWrite,
// returning ErrShortWrite makes the write store only the first half of its bytes and fail.
type Injector func(op Op, path string) error

// ErrShortWrite, returned by an Injector for OpWrite, produces a short write.
var ErrShortWrite = io.ErrShortWrite

// ErrorFS wraps an FS and fails the operations its Injector picks.
type ErrorFS struct {
	FS
	inject atomic.Pointer[Injector]
}

// NewErrorFS wraps base; with a nil injector nothing fails until SetInjector.
func NewErrorFS(base FS, fn Injector) *ErrorFS {
	e := &ErrorFS{FS: base}
	e.SetInjector(fn)
	return e
}

// SetInjector replaces the injector (nil: nothing fails).
func (e *ErrorFS) SetInjector(fn Injector) {
	if fn == nil {
		fn = func(Op, string) error { return nil }
	}
	e.inject.Store(&fn)
}

func (e *ErrorFS) err(op Op, path string) error {
	if err := (*e.inject.Load())(op, path); err != nil {
		return &os.PathError{Op: string(op), Path: path, Err: err}
	}
	return nil
}

func (e *ErrorFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if err := e.err(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := e.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &errFile{File: f, fs: e}, nil
}

func (e *ErrorFS) Rename(o, n string) error {
	if err := e.err(OpRename, o); err != nil {
		return err
	}
	return e.FS.Rename(o, n)
}

func (e *ErrorFS) Remove(name string) error {
	if err := e.err(OpRemove, name); err != nil {
		return err
	}
	return e.FS.Remove(name)
}

func (e *ErrorFS) SyncDir(dir string) error {
	if err := e.err(OpSyncDir, dir); err != nil {
		return err
	}
	return e.FS.SyncDir(dir)
}

func (e *ErrorFS) ReadDir(dir string) ([]fs.DirEntry, error) { return e.FS.ReadDir(dir) }

type errFile struct {
	File
	fs *ErrorFS
}

func (f *errFile) Allocate(off, size int64) error {
	if err := f.fs.err(OpAllocate, f.Name()); err != nil {
		return err
	}
	return f.File.Allocate(off, size)
}

func (f *errFile) Truncate(size int64) error {
	if err := f.fs.err(OpTruncate, f.Name()); err != nil {
		return err
	}
	return f.File.Truncate(size)
}

func (f *errFile) ZeroRange(off, size int64) error {
	if err := f.fs.err(OpZero, f.Name()); err != nil {
		return err
	}
	return f.File.ZeroRange(off, size)
}

func (f *errFile) Map() ([]byte, error) {
	if err := f.fs.err(OpMap, f.Name()); err != nil {
		return nil, err
	}
	return f.File.Map()
}

func (f *errFile) Msync(off, size int64) error {
	if err := f.fs.err(OpMsync, f.Name()); err != nil {
		return err
	}
	return f.File.Msync(off, size)
}

func (f *errFile) Sync() error {
	if err := f.fs.err(OpSync, f.Name()); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *errFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.err(OpWrite, f.Name()); err != nil {
		var pe *os.PathError
		if ok := asPathError(err, &pe); ok && pe.Err == ErrShortWrite {
			n, _ := f.File.WriteAt(p[:len(p)/2], off)
			return n, err
		}
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func asPathError(err error, pe **os.PathError) bool {
	p, ok := err.(*os.PathError)
	if ok {
		*pe = p
	}
	return ok
}
