package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

type task struct {
	conn *Conn
	req  *remoting.Command
	h    Handler
	raw  bool // leave the custom header as a list
}

// pool is a fixed set of workers behind a bounded queue. submit never blocks.
type pool struct {
	name    string
	workers int
	log     *slog.Logger

	mu       sync.RWMutex // guards closed against submit racing close
	closed   bool
	queue    chan task
	wg       sync.WaitGroup
	lastWarn atomic.Int64
}

func newPool(name string, pc PoolConfig, log *slog.Logger) *pool {
	if pc.Workers <= 0 {
		pc.Workers = defaultWorkers
	}
	if pc.Queue <= 0 {
		pc.Queue = defaultQueue
	}
	return &pool{name: name, workers: pc.Workers, log: log, queue: make(chan task, pc.Queue)}
}

func (p *pool) start(s *Server) {
	for range p.workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for t := range p.queue {
				s.run(t)
			}
		}()
	}
}

// submit queues t and reports false when the queue is full or the pool stopped.
func (p *pool) submit(t task) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return false
	}
	select {
	case p.queue <- t:
		return true
	default:
		now := time.Now().UnixNano()
		if last := p.lastWarn.Load(); now-last > int64(time.Second) && p.lastWarn.CompareAndSwap(last, now) {
			p.log.Warn("worker pool full: answering system busy", "pool", p.name, "queue", cap(p.queue))
		}
		return false
	}
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
}

func (p *pool) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("server: wait for pool %s: %w", p.name, ctx.Err())
	}
}
