package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DataVersion identifies a version of a table; it changes on every modification so that name
// servers and slaves can tell whether they hold the latest copy.
type DataVersion struct {
	Counter   int64 `json:"counter"`
	Timestamp int64 `json:"timestamp"`
}

// writeJSONAtomic writes v as JSON to path: the previous file is kept as path.bak, the new content
// is written to path.tmp, synced, and renamed over path, and the directory is synced.
func writeJSONAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("metadata: encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if old, err := os.ReadFile(path); err == nil && len(old) > 0 {
		_ = os.WriteFile(path+".bak", old, 0o644)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("metadata: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("metadata: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("metadata: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// readJSON loads path into v, falling back to path.bak when the file is missing, empty or not
// valid JSON. A missing file (and backup) is not an error: found reports whether anything was read.
func readJSON(path string, v any) (found bool, err error) {
	var firstErr error
	for _, p := range []string{path, path + ".bak"} {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) || (err == nil && len(data) == 0) {
			continue
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("metadata: %w", err)
			}
			continue
		}
		if err := json.Unmarshal(data, v); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("metadata: decode %s: %w", p, err)
			}
			continue
		}
		return true, nil
	}
	return false, firstErr
}
