// Package daemon holds what a Skiff process needs around its server: turning signals into a
// context, the pid file that bin/mqshutdown reads, the lock on a store folder, and slog set-up.
//
// Only cmd/ mains call this package; library packages (namesrv, broker) never handle signals, so
// tests can start them in-process.
//
// # Signals
//
// NotifyContext cancels its context on the first SIGTERM or SIGINT (graceful stop, exit code 0 is
// the caller's job). A second signal while the graceful stop is under way exits the process at
// once with code 1.
//
// # Pid file
//
// WritePidFile writes ${SKIFF_PID_DIR:-$HOME/.skiff/run}/<kind>-<port>.pid:
//
//	+------------------------------+
//	| decimal pid | '\n'           |
//	+------------------------------+
//
// The file is written to a temporary name and renamed, so a reader never sees it half written.
// The returned remove function deletes it only while it still holds this process's pid.
//
// # Store lock
//
// LockDir takes an exclusive, non-blocking flock(2) on <dir>/lock. The kernel drops the lock when
// the process dies, so a crashed daemon never leaves a stale lock behind. flock locks belong to the
// open file description, so a second LockDir on the same folder fails even inside one process.
//
// # Logging
//
// NewLogger returns a slog text logger writing one line per event to a file (created with its
// parent folders, appended to) and to stderr.
package daemon
