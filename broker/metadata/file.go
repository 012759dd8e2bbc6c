package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/skiffmq/skiff/internal/atomicfile"
	"github.com/skiffmq/skiff/internal/protocol"
)

// DataVersion identifies a version of a table; it changes on every modification so that name
// servers and slaves can tell whether they hold the latest copy (the protocol's type).
type DataVersion = protocol.DataVersion

// writeJSONAtomic writes v as JSON to path through atomicfile (temporary file, fsync, the previous
// content kept as path.bak, rename, folder fsync).
func writeJSONAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("metadata: encode %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

// readJSON loads path into v, falling back to path.bak (with a warning on log) when the file is
// missing, empty or not valid JSON. A missing file and backup is not an error: found reports
// whether anything was read. v is only assigned from a file that decoded completely.
func readJSON[T any](path string, v *T, log *slog.Logger) (found bool, err error) {
	err = atomicfile.Load(path, func(b []byte) error {
		var fresh T
		if err := json.Unmarshal(b, &fresh); err != nil {
			return err
		}
		*v = fresh
		return nil
	}, log)
	if errors.Is(err, atomicfile.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("metadata: %w", err)
	}
	return true, nil
}
