package broker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffmq/skiff/commitlog"
)

// brokerStats counts messages in and out; a sampler keeps the last minute of per-second totals so
// that runtime info can report rates.
type brokerStats struct {
	putTotal    atomic.Int64
	putFailures atomic.Int64
	getTotal    atomic.Int64

	mu      sync.Mutex
	samples []statSample // oldest first, at most 61
}

type statSample struct {
	at       time.Time
	put, get int64
}

func (s *brokerStats) recordPut(res commitlog.PutResult) {
	if res.Status == commitlog.PutOK || res.Status == commitlog.FlushDiskTimeout {
		s.putTotal.Add(int64(max(res.MsgCount, 1)))
	} else {
		s.putFailures.Add(1)
	}
}

func (s *brokerStats) recordGet(n int) { s.getTotal.Add(int64(n)) }

func (s *brokerStats) sample(now time.Time) {
	s.mu.Lock()
	s.samples = append(s.samples, statSample{at: now, put: s.putTotal.Load(), get: s.getTotal.Load()})
	if len(s.samples) > 61 {
		s.samples = s.samples[len(s.samples)-61:]
	}
	s.mu.Unlock()
}

// rates returns messages per second put and got over the sampled window (up to a minute).
func (s *brokerStats) rates() (put, get float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) < 2 {
		return 0, 0
	}
	first, last := s.samples[0], s.samples[len(s.samples)-1]
	secs := last.at.Sub(first.at).Seconds()
	if secs <= 0 {
		return 0, 0
	}
	return float64(last.put-first.put) / secs, float64(last.get-first.get) / secs
}

func (b *Broker) statsLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			b.stats.sample(now)
		}
	}
}

var memOnce = sync.OnceValue(func() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 8 << 30
	}
	return int64(si.Totalram) * int64(si.Unit)
})

// totalMemory is the machine's physical memory in bytes.
func totalMemory() int64 { return memOnce() }
