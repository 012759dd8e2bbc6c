// Package atomicfile replaces small files (metadata: topics, offsets, groups, KV config, the SDK's
// local offsets, epoch and controller state) atomically and durably, keeping the previous content
// as a backup, and loads them falling back to the backup when the file is missing or damaged.
//
// Write's steps, each needed for a power loss not to leave a torn or empty file:
//
//  1. write the new content to <path>.tmp and fsync it (the data is durable before any name
//     points at it);
//  2. rename <path> to <path>.bak (the previous content stays readable under the backup name);
//  3. rename <path>.tmp to <path>;
//  4. fsync the folder (both renames are durable).
//
// After a crash at any point, <path> holds the old or the new content, or is missing while
// <path>.bak holds the old content; Load handles all three.
package atomicfile

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Write replaces path with data as described in the package comment; perm applies to a new file.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("atomicfile: write %s: %w", tmp, werr)
	}
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		if err := os.Rename(path, path+".bak"); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("atomicfile: keep backup of %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("atomicfile: sync folder %s: %w", dir, err)
	}
	return nil
}

// SyncDir fsyncs a folder, making the names in it (new, renamed, removed files) durable.
func SyncDir(dir string) error {
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

// ErrNotFound is returned by Load when neither the file nor its backup exists (or both are
// empty): a new, empty state.
var ErrNotFound = errors.New("atomicfile: no file and no backup")

// Load reads path and passes its content to decode. When path is missing, empty, unreadable or
// decode rejects it, it tries path.bak the same way and logs a warning (log may be nil) saying
// which file was damaged and that the backup is used. decode may be called twice and must not
// keep state from a failed call. It returns ErrNotFound when neither file has content, and the
// main file's error when both exist and neither decodes.
func Load(path string, decode func([]byte) error, log *slog.Logger) error {
	mainErr := loadOne(path, decode)
	if mainErr == nil {
		return nil
	}
	bakErr := loadOne(path+".bak", decode)
	switch {
	case bakErr == nil:
		if log != nil && !errors.Is(mainErr, ErrNotFound) {
			log.Warn("file damaged; loaded its backup instead (changes after the backup are lost)", "file", path, "backup", path+".bak", "err", mainErr)
		} else if log != nil {
			log.Warn("file missing; loaded its backup", "file", path, "backup", path+".bak")
		}
		return nil
	case errors.Is(mainErr, ErrNotFound) && errors.Is(bakErr, ErrNotFound):
		return ErrNotFound
	case errors.Is(mainErr, ErrNotFound):
		return bakErr
	default:
		return mainErr
	}
}

func loadOne(path string, decode func([]byte) error) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(b) == 0) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err := decode(b); err != nil {
		return fmt.Errorf("atomicfile: decode %s: %w", path, err)
	}
	return nil
}
