package daemon

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// exit is os.Exit; tests replace it.
var exit = os.Exit

// NotifyContext returns a context derived from parent that is cancelled on the first SIGTERM or
// SIGINT. A second signal exits the process with code 1 without waiting for the graceful stop.
// The returned cancel function stops listening for signals and cancels the context; call it when
// the daemon has stopped.
func NotifyContext(parent context.Context, log *slog.Logger) (context.Context, context.CancelFunc) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "daemon")
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		count := 0
		for {
			select {
			case <-done:
				return
			case sig := <-ch:
				count++
				if count == 1 {
					log.Info("signal received, shutting down", "signal", sig.String())
					cancel()
					continue
				}
				log.Error("second signal received, exiting now", "signal", sig.String())
				exit(1)
				return
			}
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			wg.Wait()
			cancel()
		})
	}
	return ctx, stop
}
