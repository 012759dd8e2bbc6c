package controller

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/raft"
)

// fsm is the Raft state machine around State: Apply decodes and applies a log entry, Snapshot
// and Restore write and read State as JSON.
//
// Concurrency: mu guards st; raft calls Apply, Snapshot and Restore from its FSM goroutine and the
// Controller reads st through view.
type fsm struct {
	mu  sync.RWMutex
	st  *State
	log *slog.Logger
}

func newFSM(log *slog.Logger) *fsm { return &fsm{st: NewState(), log: log} }

// Apply implements raft.FSM. It returns a Result (a refused or undecodable entry changes nothing).
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return Result{}
	}
	c, err := DecodeCommand(l.Data)
	if err != nil {
		f.log.Error("controller: undecodable raft entry skipped", "index", l.Index, "err", err)
		return refuse(1, "%v", err)
	}
	f.mu.Lock()
	res := f.st.Apply(c)
	f.mu.Unlock()
	if res.Changed {
		// Every node logs the switch as it applies it, leader or not.
		f.log.Info("broker set master changed", "broker", c.BrokerName, "master", res.Info.MasterBrokerID,
			"masterAddr", res.Info.MasterAddress, "masterEpoch", res.Info.MasterEpoch, "index", l.Index)
	}
	return res
}

// view runs fn with the state under the read lock; fn must not keep references into it.
func (f *fsm) view(fn func(st *State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.st)
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := f.st.Encode()
	if err != nil {
		return nil, err
	}
	return snapshot(b), nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	st, err := DecodeState(b)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
	f.log.Info("controller state restored from snapshot", "sets", len(st.Sets))
	return nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshot) Release() {}

// raftLog turns hashicorp/raft's hclog lines ("2026-12-02T15:04:05.000Z [INFO]  raft: text") into
// slog records, so Raft's own log ends up in the name server's log.
type raftLog struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (w *raftLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		level := slog.LevelInfo
		switch {
		case strings.Contains(line, "[ERROR]"):
			level = slog.LevelError
		case strings.Contains(line, "[WARN]"):
			level = slog.LevelWarn
		case strings.Contains(line, "[DEBUG]"), strings.Contains(line, "[TRACE]"):
			level = slog.LevelDebug
		}
		if j := strings.Index(line, "] "); j >= 0 {
			line = strings.TrimSpace(line[j+2:])
		}
		w.log.Log(context.Background(), level, line)
	}
	return len(p), nil
}
