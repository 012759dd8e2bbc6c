package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrCrashed is returned by every operation on a handle opened before MemFS.Crash.
var ErrCrashed = errors.New("vfs: file handle from before the simulated crash")

// MemFS is an in-memory FS that simulates power loss (in the spirit of pebble's strict MemFS and
// CrashClone; no code shared). Each file has a live content — what reads and the mapping see, the
// page cache — and a durable image. Sync copies the live content (and size) into the image;
// Msync copies one range of it; SyncDir makes the current set of names in a folder durable.
// Crash replaces every file by its durable image and every folder by its durable names, and
// invalidates open handles. Folders themselves are durable as soon as they are created.
//
// One mutex serializes all operations; writes through a mapping are plain memory writes, so
// the store's own publication rules (atomics) are what orders them with Msync, as on a real
// mapping.
type MemFS struct {
	mu      sync.Mutex
	gen     int
	live    map[string]*memNode // path → node
	durable map[string]*memNode // path → node, as of the last SyncDir of its folder
	dirs    map[string]bool
	now     func() time.Time
}

type memNode struct {
	data    []byte // live content; a mapping aliases it
	image   []byte // durable content
	mapped  bool
	modTime time.Time
}

// NewMem returns an empty MemFS.
func NewMem() *MemFS {
	return &MemFS{live: map[string]*memNode{}, durable: map[string]*memNode{}, dirs: map[string]bool{"/": true}, now: time.Now}
}

// SetClock sets the source of modification times (retention tests).
func (m *MemFS) SetClock(now func() time.Time) {
	m.mu.Lock()
	m.now = now
	m.mu.Unlock()
}

// Crash simulates a power loss: every file reverts to its durable image, unsynced names vanish,
// removed-but-unsynced names come back, and handles opened before fail with ErrCrashed.
func (m *MemFS) Crash() { m.CrashKeeping(nil) }

// PageSize is the granularity at which CrashKeeping may keep unsynced bytes.
const PageSize = 4096

// CrashKeeping is Crash, except that each unsynced 4 KiB page of a file whose name is durable is
// kept when keep(path, pageIndex) says so — the kernel may have written back any dirty page
// before the power went, in any order. Only pages inside the durable size are kept.
func (m *MemFS) CrashKeeping(keep func(path string, page int64) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	live := map[string]*memNode{}
	seen := map[*memNode]*memNode{}
	for p, n := range m.durable {
		c := seen[n]
		if c == nil {
			img := append([]byte(nil), n.image...)
			if keep != nil {
				for pg := int64(0); pg*PageSize < int64(len(img)); pg++ {
					lo := pg * PageSize
					hi := min(lo+PageSize, int64(len(img)), int64(len(n.data)))
					if lo < hi && string(img[lo:hi]) != string(n.data[lo:hi]) && keep(p, pg) {
						copy(img[lo:hi], n.data[lo:hi])
					}
				}
			}
			c = &memNode{data: img, image: append([]byte(nil), img...), modTime: n.modTime}
			seen[n] = c
		}
		live[p] = c
	}
	m.live = live
	m.durable = map[string]*memNode{}
	for p, n := range live {
		m.durable[p] = n
	}
}

// DurableBytes returns a copy of the durable image of a file (nil if it has no durable name).
func (m *MemFS) DurableBytes(name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.durable[filepath.Clean(name)]; n != nil {
		return append([]byte(nil), n.image...)
	}
	return nil
}

func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[filepath.Dir(name)] {
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	}
	n := m.live[name]
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	case n != nil && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrExist}
	case n == nil:
		n = &memNode{modTime: m.now()}
		m.live[name] = n
	}
	if flag&os.O_TRUNC != 0 {
		if n.mapped {
			return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("truncate of a mapped file")}
		}
		n.data = nil
	}
	return &memFile{fs: m, node: n, name: name, gen: m.gen}, nil
}

func (m *MemFS) Remove(name string) error {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live[name] != nil {
		delete(m.live, name)
		return nil
	}
	if m.dirs[name] {
		for p := range m.live {
			if strings.HasPrefix(p, name+"/") {
				return &os.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
			}
		}
		delete(m.dirs, name)
		return nil
	}
	return &os.PathError{Op: "remove", Path: name, Err: os.ErrNotExist}
}

// RemoveAll removes a file or a folder and everything under it; removing names of files is
// durable at once (like a folder removal that the caller would sync).
func (m *MemFS) RemoveAll(name string) error {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tbl := range []map[string]*memNode{m.live, m.durable} {
		for p := range tbl {
			if p == name || strings.HasPrefix(p, name+"/") {
				delete(tbl, p)
			}
		}
	}
	for d := range m.dirs {
		if d == name || strings.HasPrefix(d, name+"/") {
			delete(m.dirs, d)
		}
	}
	return nil
}

func (m *MemFS) Rename(oldpath, newpath string) error {
	oldpath, newpath = filepath.Clean(oldpath), filepath.Clean(newpath)
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.live[oldpath]
	if n == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: os.ErrNotExist}
	}
	if !m.dirs[filepath.Dir(newpath)] {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: os.ErrNotExist}
	}
	delete(m.live, oldpath)
	m.live[newpath] = n
	return nil
}

func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := dir; ; d = filepath.Dir(d) {
		if m.live[d] != nil {
			return &os.PathError{Op: "mkdir", Path: d, Err: errors.New("not a directory")}
		}
		m.dirs[d] = true
		if d == "/" || d == "." {
			return nil
		}
	}
}

func (m *MemFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	dir = filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[dir] {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: os.ErrNotExist}
	}
	var out []fs.DirEntry
	for p, n := range m.live {
		if filepath.Dir(p) == dir {
			out = append(out, memDirEntry{memInfo{name: filepath.Base(p), size: int64(len(n.data)), mod: n.modTime}})
		}
	}
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			out = append(out, memDirEntry{memInfo{name: filepath.Base(d), dir: true}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.live[name]; n != nil {
		return memInfo{name: filepath.Base(name), size: int64(len(n.data)), mod: n.modTime}, nil
	}
	if m.dirs[name] {
		return memInfo{name: filepath.Base(name), dir: true}, nil
	}
	return nil, &os.PathError{Op: "stat", Path: name, Err: os.ErrNotExist}
}

// Chtimes sets a file's modification time (retention tests).
func (m *MemFS) Chtimes(name string, mod time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.live[filepath.Clean(name)]
	if n == nil {
		return os.ErrNotExist
	}
	n.modTime = mod
	return nil
}

func (m *MemFS) SyncDir(dir string) error {
	dir = filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[dir] {
		return &os.PathError{Op: "sync", Path: dir, Err: os.ErrNotExist}
	}
	for p := range m.durable {
		if filepath.Dir(p) == dir && m.live[p] == nil {
			delete(m.durable, p)
		}
	}
	for p, n := range m.live {
		if filepath.Dir(p) == dir {
			m.durable[p] = n
		}
	}
	return nil
}

type memFile struct {
	fs     *MemFS
	node   *memNode
	name   string
	gen    int
	closed bool
}

// check returns an error when the handle is stale; m.fs.mu must be held.
func (f *memFile) checkLocked() error {
	if f.gen != f.fs.gen {
		return &os.PathError{Op: "io", Path: f.name, Err: ErrCrashed}
	}
	if f.closed {
		return &os.PathError{Op: "io", Path: f.name, Err: os.ErrClosed}
	}
	return nil
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return 0, err
	}
	return int64(len(f.node.data)), nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return 0, err
	}
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return 0, err
	}
	if end := off + int64(len(p)); end > int64(len(f.node.data)) {
		if f.node.mapped {
			return 0, errors.New("vfs: write past the end of a mapped file")
		}
		f.node.data = append(f.node.data, make([]byte, end-int64(len(f.node.data)))...)
	}
	copy(f.node.data[off:], p)
	f.node.modTime = f.fs.now()
	return len(p), nil
}

func (f *memFile) resizeLocked(size int64) error {
	if f.node.mapped && size != int64(len(f.node.data)) {
		return errors.New("vfs: resize of a mapped file")
	}
	if size <= int64(len(f.node.data)) {
		f.node.data = f.node.data[:size:size]
		return nil
	}
	f.node.data = append(f.node.data, make([]byte, size-int64(len(f.node.data)))...)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return err
	}
	return f.resizeLocked(size)
}

func (f *memFile) Allocate(off, size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return err
	}
	if end := off + size; end > int64(len(f.node.data)) {
		return f.resizeLocked(end)
	}
	return nil
}

func (f *memFile) ZeroRange(off, size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return err
	}
	end := min(off+size, int64(len(f.node.data)))
	if off < end {
		clear(f.node.data[off:end])
	}
	return nil
}

func (f *memFile) Map() ([]byte, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return nil, err
	}
	if f.node.mapped {
		return nil, errors.New("vfs: file is already mapped")
	}
	f.node.mapped = true
	return f.node.data, nil
}

func (f *memFile) Msync(off, size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return err
	}
	// Only bytes inside the durable size become durable: msync does not persist a new size.
	end := min(off+size, int64(len(f.node.data)), int64(len(f.node.image)))
	if off < end {
		copy(f.node.image[off:end], f.node.data[off:end])
	}
	return nil
}

func (f *memFile) Unmap() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.gen == f.fs.gen {
		f.node.mapped = false
	}
	return nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return err
	}
	f.node.image = append(f.node.image[:0:0], f.node.data...)
	return nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.gen == f.fs.gen && !f.closed {
		f.node.mapped = false
	}
	f.closed = true
	return nil
}

type memInfo struct {
	name string
	size int64
	mod  time.Time
	dir  bool
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) ModTime() time.Time { return i.mod }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

type memDirEntry struct{ info memInfo }

func (e memDirEntry) Name() string               { return e.info.name }
func (e memDirEntry) IsDir() bool                { return e.info.dir }
func (e memDirEntry) Type() fs.FileMode          { return e.info.Mode().Type() }
func (e memDirEntry) Info() (fs.FileInfo, error) { return e.info, nil }
