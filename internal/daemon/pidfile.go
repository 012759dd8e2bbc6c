package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// PidDirEnv is the environment variable that overrides the pid folder.
const PidDirEnv = "SKIFF_PID_DIR"

// PidDir returns the folder pid files live in: $SKIFF_PID_DIR, else $HOME/.skiff/run.
func PidDir() (string, error) {
	if d := os.Getenv(PidDirEnv); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("daemon: pid folder: %w", err)
	}
	return filepath.Join(home, ".skiff", "run"), nil
}

// PidFilePath returns the path of the pid file of a daemon of the given kind ("mqnamesrv",
// "mqbroker") listening on port.
func PidFilePath(kind string, port int) (string, error) {
	dir, err := PidDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, kind+"-"+strconv.Itoa(port)+".pid"), nil
}

// WritePidFile writes this process's pid to PidFilePath(kind, port), creating the folder. An
// existing file is replaced. The returned remove function deletes the file if it still holds this
// process's pid; it is safe to call more than once.
func WritePidFile(kind string, port int) (remove func(), err error) {
	if kind == "" {
		return nil, errors.New("daemon: pid file: empty kind")
	}
	path, err := PidFilePath(kind, port)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("daemon: pid file: %w", err)
	}
	content := []byte(strconv.Itoa(os.Getpid()) + "\n")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return nil, fmt.Errorf("daemon: pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("daemon: pid file: %w", err)
	}
	return func() {
		got, err := os.ReadFile(path)
		if err == nil && bytes.Equal(got, content) {
			_ = os.Remove(path)
		}
	}, nil
}

// ReadPidFile returns the pid stored in a pid file.
func ReadPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("daemon: pid file: %w", err)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("daemon: pid file %s: bad content %q", path, bytes.TrimSpace(b))
	}
	return pid, nil
}
