package vfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestMemFSCrashKeepsOnlySyncedBytes: after Crash a file holds what Sync and Msync made durable,
// names exist only if their folder was synced, and old handles fail.
func TestMemFSCrashKeepsOnlySyncedBytes(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := m.OpenFile("/d/a", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Allocate(0, 3*PageSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil { // size durable
		t.Fatal(err)
	}
	if err := m.SyncDir("/d"); err != nil { // name durable
		t.Fatal(err)
	}
	data, err := f.Map()
	if err != nil {
		t.Fatal(err)
	}
	copy(data, "synced")
	copy(data[PageSize:], "not synced")
	if err := f.Msync(0, 6); err != nil {
		t.Fatal(err)
	}
	g, _ := m.OpenFile("/d/unsynced-name", os.O_RDWR|os.O_CREATE, 0o644)
	g.WriteAt([]byte("x"), 0)
	g.Sync()
	m.Crash()
	if err := f.Msync(0, 1); !errors.Is(err, ErrCrashed) {
		t.Fatalf("a handle from before the crash: %v, want ErrCrashed", err)
	}
	if _, err := m.Stat("/d/unsynced-name"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a name whose folder was never synced survived the crash: %v", err)
	}
	img := m.DurableBytes("/d/a")
	if len(img) != 3*PageSize || string(img[:6]) != "synced" || !bytes.Equal(img[PageSize:PageSize+10], make([]byte, 10)) {
		t.Fatalf("image after crash: len %d, %q / %q", len(img), img[:6], img[PageSize:PageSize+10])
	}
	// CrashKeeping may keep a dirty page.
	f2, _ := m.OpenFile("/d/a", os.O_RDWR, 0)
	d2, _ := f2.Map()
	copy(d2[2*PageSize:], "kept")
	m.CrashKeeping(func(path string, page int64) bool { return path == filepath.Clean("/d/a") && page == 2 })
	if img := m.DurableBytes("/d/a"); string(img[2*PageSize:2*PageSize+4]) != "kept" {
		t.Fatal("CrashKeeping did not keep the chosen dirty page")
	}
}

// TestErrorFSInjects: the injector fails exactly the operations it picks; a short write stores
// half of the bytes.
func TestErrorFSInjects(t *testing.T) {
	e := NewErrorFS(Default, func(op Op, path string) error {
		switch op {
		case OpWrite:
			return ErrShortWrite
		case OpAllocate:
			return syscall.ENOSPC
		}
		return nil
	})
	path := filepath.Join(t.TempDir(), "f")
	f, err := e.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Allocate(0, 4096); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("allocate: %v", err)
	}
	if n, err := f.WriteAt([]byte("abcd"), 0); n != 2 || !errors.Is(err, ErrShortWrite) {
		t.Fatalf("short write: %d %v", n, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "ab" {
		t.Fatalf("file holds %q", b)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("sync was not picked: %v", err)
	}
}

// TestOSZeroRange: ZeroRange zeroes an unaligned range through the mapping and keeps the size.
func TestOSZeroRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z")
	f, err := Default.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Allocate(0, 4*PageSize); err != nil && !errors.Is(err, ErrUnsupported) {
		t.Fatal(err)
	}
	data, err := f.Map()
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 0xAB
	}
	if err := f.ZeroRange(100, 3*PageSize); err != nil {
		t.Fatal(err)
	}
	for i, c := range data {
		if want := byte(0xAB); (i < 100 || i >= 100+3*PageSize) && c != want || (i >= 100 && i < 100+3*PageSize) && c != 0 {
			t.Fatalf("byte %d = %#x after ZeroRange(100, %d)", i, c, 3*PageSize)
		}
	}
	if size, _ := f.Size(); size != 4*PageSize {
		t.Fatalf("size %d", size)
	}
}
