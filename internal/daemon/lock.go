package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned (wrapped) by LockDir when another process, or another LockDir call in this
// process, holds the folder's lock.
var ErrLocked = errors.New("daemon: locked")

// LockDir takes an exclusive lock on <dir>/lock, creating dir if needed. It fails at once, with an
// error naming dir ("store ... is locked by another process"), when the lock is held elsewhere.
// unlock releases the lock and is safe to call more than once.
func LockDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("daemon: lock %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("daemon: lock %s: %w", dir, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: store %s is locked by another process", ErrLocked, dir)
		}
		return nil, fmt.Errorf("daemon: lock %s: %w", dir, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
			_ = f.Close()
		})
	}, nil
}
