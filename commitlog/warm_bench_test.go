package commitlog

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkCommitLogPopulate is the warm loop's work (populate: madvise MADV_POPULATE_WRITE)
// per MiB of a fresh commit-log segment, for the ways a segment's pages can come to exist:
//
//   - fallocate: the segment as the store creates it (fallocate, fsync, mmap); the pages are
//     unwritten extents, so the kernel allocates page-cache pages and zero-fills them;
//   - truncate: a sparse file (holes), the fallback where fallocate is unsupported;
//   - cached: a file whose pages are already in the page cache (as a recycled segment's would
//     be), so populating only maps them;
//   - touch: a fallocated segment without populate, each page faulted in by its first write (one
//     byte per page: what the writer pays on the append path without the warm loop);
//
// each with chunks of 64 KiB, 1 MiB and 16 MiB (the warm loop's window is 16 MiB, extended by
// at least 8 MiB at a time). ns/op is per MiB populated, including the file's creation.
//
//	go test -run '^$' -bench CommitLogPopulate -benchtime 256x ./commitlog/
func BenchmarkCommitLogPopulate(b *testing.B) {
	const fileSize = 64 << 20
	for _, kind := range []string{"fallocate", "truncate", "cached", "touch"} {
		for _, chunk := range []int{64 << 10, 1 << 20, 16 << 20} {
			if kind == "touch" && chunk != 1<<20 {
				continue // one write per page: the chunk does not matter
			}
			b.Run(fmt.Sprintf("file=%s/chunk=%dKiB", kind, chunk>>10), func(b *testing.B) {
				dir := b.TempDir()
				var data []byte
				var f *os.File
				off := fileSize
				n := 0
				next := func() {
					if data != nil {
						_ = unix.Munmap(data)
						_ = f.Close()
						if kind != "cached" {
							_ = os.Remove(f.Name())
						}
					}
					var err error
					name := filepath.Join(dir, fmt.Sprintf("seg%d", n))
					if kind == "cached" {
						name = filepath.Join(dir, "seg") // the same file again: its pages stay cached
					}
					n++
					if f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
						b.Fatal(err)
					}
					st, _ := f.Stat()
					if st.Size() != fileSize {
						if kind == "truncate" {
							err = f.Truncate(fileSize)
						} else {
							err = unix.Fallocate(int(f.Fd()), 0, 0, fileSize)
						}
						if err == nil {
							err = f.Sync()
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					if data, err = unix.Mmap(int(f.Fd()), 0, fileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
						b.Fatal(err)
					}
					if kind == "cached" && n == 1 {
						if err := populate(data); err != nil { // bring every page into the cache once
							b.Skip(err)
						}
						_ = unix.Munmap(data)
						if data, err = unix.Mmap(int(f.Fd()), 0, fileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
							b.Fatal(err)
						}
					}
					off = 0
				}
				b.SetBytes(1 << 20)
				b.ResetTimer()
				for left := int64(b.N) << 20; left > 0; {
					if off >= fileSize {
						next()
					}
					c := int(min(int64(chunk), int64(fileSize-off), left))
					if kind == "touch" {
						for p := off; p < off+c; p += pageSize {
							data[p] = 1
						}
					} else if err := populate(data[off : off+c]); err != nil {
						b.Skip(err)
					}
					off += c
					left -= int64(c)
				}
				b.StopTimer()
				if data != nil {
					_ = unix.Munmap(data)
					_ = f.Close()
				}
			})
		}
	}
}
