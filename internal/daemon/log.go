package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// ParseLevel maps a level name (debug, info, warn or warning, error; any case) to a slog level.
// The error names the bad value.
func ParseLevel(name string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("daemon: unknown log level %q (want debug, info, warn or error)", name)
}

// NewLogger returns a logger that writes one text line per event to logFile and to stderr. The
// file and its parent folders are created; the file is appended to. An empty logFile logs to
// stderr only; a nil stderr logs to the file only. The Closer closes the file. level is a name
// accepted by ParseLevel.
func NewLogger(logFile, level string, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, nil, err
	}
	var w teeWriter
	var closer io.Closer = nopCloser{}
	if logFile != "" {
		if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
			return nil, nil, fmt.Errorf("daemon: log file: %w", err)
		}
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("daemon: log file: %w", err)
		}
		w.primary = f
		closer = f
	}
	w.secondary = stderr
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})
	return slog.New(h), closer, nil
}

// teeWriter writes every record to both writers. A failure of the secondary (stderr gone) never
// stops the primary (the log file); slog's handler serialises calls, one record per Write.
type teeWriter struct {
	primary, secondary io.Writer
}

func (t teeWriter) Write(p []byte) (int, error) {
	var err error
	if t.primary != nil {
		_, err = t.primary.Write(p)
	}
	if t.secondary != nil {
		_, _ = t.secondary.Write(p)
	}
	return len(p), err
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
