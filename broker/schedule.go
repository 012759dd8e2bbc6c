package broker

import (
	"context"
	"time"
)

// scheduleLoop delivers delayed messages (§4.10) every 100 ms through processor.Schedule; a level
// whose delivery failed is retried after 10 s. Only a master delivers.
func (b *Broker) scheduleLoop(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Second):
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	backoff := map[int]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !b.conf().IsMaster() {
			continue // controller mode: only the current master delivers
		}
		now := b.now()
		failed := b.schedProc.DeliverDue(ctx, now, func(level int) bool {
			until, ok := backoff[level]
			return ok && now.Before(until)
		})
		for level, err := range failed {
			b.log.Warn("delay delivery failed; retrying in 10s", "level", level, "err", err)
			backoff[level] = now.Add(10 * time.Second)
		}
	}
}
