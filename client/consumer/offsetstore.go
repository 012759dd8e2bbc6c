package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/atomicfile"
	"github.com/skiffmq/skiff/internal/remoting"
)

// OffsetStore keeps a group's consume offsets: the offset of the next message to consume on each
// queue. RemoteOffsetStore (clustering) keeps them on the brokers, LocalOffsetStore
// (broadcasting) in a file.
type OffsetStore interface {
	// Read returns the stored offset of mq, -1 when there is none. fromStore skips the memory
	// copy and asks the backing store.
	Read(ctx context.Context, mq client.MessageQueue, fromStore bool) (int64, error)
	// Update sets mq's offset in memory; increaseOnly ignores an offset lower than the current.
	Update(mq client.MessageQueue, offset int64, increaseOnly bool)
	// Persist writes the memory copy of the given queues to the backing store.
	Persist(ctx context.Context, mqs []client.MessageQueue) error
	// Remove forgets mq in memory.
	Remove(mq client.MessageQueue)
}

// memOffsets is the in-memory table both stores share.
type memOffsets struct {
	mu    sync.Mutex
	table map[client.MessageQueue]int64
}

func (m *memOffsets) get(mq client.MessageQueue) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.table[mq]
	return v, ok
}

func (m *memOffsets) Update(mq client.MessageQueue, offset int64, increaseOnly bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.table[mq]; ok && increaseOnly && offset <= cur {
		return
	}
	m.table[mq] = offset
}

func (m *memOffsets) Remove(mq client.MessageQueue) {
	m.mu.Lock()
	delete(m.table, mq)
	m.mu.Unlock()
}

// RemoteOffsetStore keeps offsets on the master of each queue's broker set
// (QUERY_CONSUMER_OFFSET / UPDATE_CONSUMER_OFFSET).
type RemoteOffsetStore struct {
	memOffsets
	group string
	core  *core.Client
	// persistMu serializes Persist calls, so that a periodic commit that read an older offset
	// cannot land after a later commit of the same queue (say, the one before its lock is
	// released to the next owner).
	persistMu sync.Mutex
}

func newRemoteOffsetStore(group string, c *core.Client) *RemoteOffsetStore {
	return &RemoteOffsetStore{memOffsets: memOffsets{table: map[client.MessageQueue]int64{}}, group: group, core: c}
}

// Read implements OffsetStore.
func (s *RemoteOffsetStore) Read(ctx context.Context, mq client.MessageQueue, fromStore bool) (int64, error) {
	if !fromStore {
		if v, ok := s.get(mq); ok {
			return v, nil
		}
	}
	off, err := s.fetch(ctx, mq)
	if err == nil && off >= 0 {
		s.Update(mq, off, false)
	}
	return off, err
}

// fetch asks mq's broker for the group's offset without touching the memory copy.
func (s *RemoteOffsetStore) fetch(ctx context.Context, mq client.MessageQueue) (int64, error) {
	addr, err := s.brokerAddr(ctx, mq)
	if err != nil {
		return -1, err
	}
	req := remoting.NewRequest(remoting.QueryConsumerOffset, map[string]string{
		"consumerGroup": s.group, "topic": mq.Topic, "queueId": strconv.Itoa(int(mq.QueueID))}, nil)
	resp, err := s.core.Invoke(ctx, addr, req)
	if err != nil {
		return -1, err
	}
	if resp.Code == remoting.QueryNotFound {
		return -1, nil
	}
	if err := core.Check(resp, addr, req.Code); err != nil {
		return -1, fmt.Errorf("consumer: offset of %s for group %q: %w", mq, s.group, err)
	}
	off, err := strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
	if err != nil {
		return -1, fmt.Errorf("consumer: offset of %s from %s: %w: %q", mq, addr, client.ErrBadResponse, resp.ExtFields["offset"])
	}
	return off, nil
}

func (s *RemoteOffsetStore) brokerAddr(ctx context.Context, mq client.MessageQueue) (string, error) {
	addr, _ := s.core.FindBrokerAddr(mq.BrokerName, 0)
	if addr == "" {
		if _, err := s.core.UpdateRoute(ctx, mq.Topic); err != nil {
			return "", err
		}
		addr, _ = s.core.FindBrokerAddr(mq.BrokerName, 0)
	}
	if addr == "" {
		return "", fmt.Errorf("consumer: no broker of set %q for %s: %w", mq.BrokerName, mq, client.ErrConnect)
	}
	return addr, nil
}

// Persist implements OffsetStore: each queue's offset goes to its broker set's master (a
// slave's address is skipped: slaves copy offsets from their master).
func (s *RemoteOffsetStore) Persist(ctx context.Context, mqs []client.MessageQueue) error {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	var errs []error
	for _, mq := range mqs {
		off, ok := s.get(mq)
		if !ok || off < 0 {
			continue
		}
		if err := s.commitLocked(ctx, mq, off); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// commit sends off as mq's offset, serialized with Persist (so it lands after any commit this
// store sent before).
func (s *RemoteOffsetStore) commit(ctx context.Context, mq client.MessageQueue, off int64) error {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	return s.commitLocked(ctx, mq, off)
}

// commitLocked sends one UPDATE_CONSUMER_OFFSET to mq's master; persistMu must be held.
func (s *RemoteOffsetStore) commitLocked(ctx context.Context, mq client.MessageQueue, off int64) error {
	addr := s.core.MasterAddr(mq.BrokerName)
	if addr == "" && s.core.RefreshRoute(ctx, mq.Topic) { // a failover: the new master may be registered
		addr = s.core.MasterAddr(mq.BrokerName)
	}
	if addr == "" {
		return fmt.Errorf("consumer: commit offset %d of %s: %w: master of %q is not registered", off, mq, client.ErrConnect, mq.BrokerName)
	}
	req := remoting.NewRequest(remoting.UpdateConsumerOffset, map[string]string{
		"consumerGroup": s.group, "topic": mq.Topic, "queueId": strconv.Itoa(int(mq.QueueID)),
		"commitOffset": strconv.FormatInt(off, 10)}, nil)
	resp, err := s.core.Invoke(ctx, addr, req)
	if err == nil {
		err = core.Check(resp, addr, req.Code)
	}
	if err != nil {
		if core.IsTransport(err) || isNotAvailable(err) {
			s.core.RefreshRoute(ctx, mq.Topic) // the next commit goes to the new master
		}
		return fmt.Errorf("consumer: commit offset %d of %s: %w", off, mq, err)
	}
	return nil
}

// LocalOffsetStore keeps offsets in a JSON file (broadcasting: each consumer has its own).
//
// The file is replaced atomically and durably (internal/atomicfile: temporary file, fsync, the
// previous content kept as <path>.bak, rename, folder fsync); a damaged file falls back to the
// backup with a warning.
type LocalOffsetStore struct {
	memOffsets
	path   string
	log    *slog.Logger // nil: silent
	fileMu sync.Mutex
	loaded bool
}

// NewLocalOffsetStore returns a store backed by the file at path (created on the first Persist).
func NewLocalOffsetStore(path string) *LocalOffsetStore {
	return &LocalOffsetStore{memOffsets: memOffsets{table: map[client.MessageQueue]int64{}}, path: path}
}

// WithLogger sets the logger that warns about a damaged offsets file; it returns s.
func (s *LocalOffsetStore) WithLogger(l *slog.Logger) *LocalOffsetStore {
	s.log = l
	return s
}

// Path returns the backing file.
func (s *LocalOffsetStore) Path() string { return s.path }

type offsetFile struct {
	OffsetTable map[string]int64 `json:"offsetTable"` // topic@brokerName@queueId -> offset
}

func mqKey(mq client.MessageQueue) string {
	return mq.Topic + "@" + mq.BrokerName + "@" + strconv.Itoa(int(mq.QueueID))
}

func parseMQKey(k string) (client.MessageQueue, bool) {
	i := strings.LastIndexByte(k, '@')
	if i < 0 {
		return client.MessageQueue{}, false
	}
	j := strings.LastIndexByte(k[:i], '@')
	if j < 0 {
		return client.MessageQueue{}, false
	}
	q, err := strconv.ParseInt(k[i+1:], 10, 32)
	if err != nil {
		return client.MessageQueue{}, false
	}
	return client.MessageQueue{Topic: k[:j], BrokerName: k[j+1 : i], QueueID: int32(q)}, true
}

// load reads the file once; a missing file is an empty store.
func (s *LocalOffsetStore) load() error {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if s.loaded {
		return nil
	}
	var f offsetFile
	err := atomicfile.Load(s.path, func(b []byte) error {
		var fresh offsetFile
		if err := json.Unmarshal(b, &fresh); err != nil {
			return err
		}
		f = fresh
		return nil
	}, s.log)
	if errors.Is(err, atomicfile.ErrNotFound) {
		s.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("consumer: offsets file %s is corrupt and has no readable backup (move it away to start over): %w", s.path, err)
	}
	s.mu.Lock()
	for k, v := range f.OffsetTable {
		if mq, ok := parseMQKey(k); ok {
			if _, set := s.table[mq]; !set { // an offset set since start is newer than the file
				s.table[mq] = v
			}
		}
	}
	s.mu.Unlock()
	s.loaded = true
	return nil
}

// Read implements OffsetStore.
func (s *LocalOffsetStore) Read(_ context.Context, mq client.MessageQueue, _ bool) (int64, error) {
	if err := s.load(); err != nil {
		return -1, err
	}
	if v, ok := s.get(mq); ok {
		return v, nil
	}
	return -1, nil
}

// Persist implements OffsetStore: the whole table is written to a temporary file that then
// replaces the old one.
func (s *LocalOffsetStore) Persist(_ context.Context, _ []client.MessageQueue) error {
	if err := s.load(); err != nil {
		return err
	}
	s.mu.Lock()
	f := offsetFile{OffsetTable: make(map[string]int64, len(s.table))}
	for mq, v := range s.table {
		f.OffsetTable[mqKey(mq)] = v
	}
	s.mu.Unlock()
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if err := atomicfile.Write(s.path, b, 0o644); err != nil {
		return fmt.Errorf("consumer: write offsets: %w", err)
	}
	return nil
}
