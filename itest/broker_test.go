package itest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/producer"
	"github.com/skiffmq/skiff/internal/testutil"
)

// loadSender keeps SDK producers sending to a topic from a few goroutines until finish, and
// records every body the broker acknowledged with SEND_OK. A failed send (the broker is down or
// shutting down) is dropped; the next body follows after a short pause.
type loadSender struct {
	mu    sync.Mutex
	acked []string
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startLoad(t *testing.T, c *testutil.Cluster, topic string, senders int) *loadSender {
	t.Helper()
	l := &loadSender{stop: make(chan struct{})}
	p := startProducer(t, c, producer.WithGroup("load-pg-"+topic), producer.WithSendTimeout(3*time.Second))
	for w := range senders {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				body := fmt.Sprintf("%s-w%d-%05d", topic, w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				res, err := p.Send(ctx, client.NewMessage(topic, []byte(body)))
				cancel()
				if err == nil && res.Status == client.SendOK {
					l.mu.Lock()
					l.acked = append(l.acked, body)
					l.mu.Unlock()
					continue
				}
				select { // the broker is away: do not spin
				case <-l.stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}
	t.Cleanup(func() { l.finish() })
	return l
}

func (l *loadSender) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// finish stops the senders and returns every acknowledged body.
func (l *loadSender) finish() []string {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acked...)
}

// restartBroker stops the broker with stop (SIGTERM or SIGKILL) while producers keep sending and
// a push consumer keeps consuming, starts it again on the same ports and store, and checks that
// every message acknowledged before, during or after the stop can be read from offset 0 after the
// restart and reaches the consumer.
func restartBroker(t *testing.T, topic string, stop func(*testutil.Broker)) {
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins,
		Broker: testutil.BrokerOptions{RegisterNameServerPeriod: 10000}})
	createTopic(t, c, topic, 4)
	col := newCollector()
	startPush(t, "restart-cg-"+topic, topic, "*", col.handler("c"), fastConsumer(c)...)
	load := startLoad(t, c, topic, 2)
	waitFor(t, 30*time.Second, "50 acknowledged sends and deliveries before the stop", func() bool {
		return load.count() >= 50 && col.distinct() >= 20
	})

	stop(c.Broker) // while the senders and the consumer are busy
	atStop := load.count()
	br := testutil.StartBroker(t, bins.Broker, c.Broker.Options)
	waitFor(t, 60*time.Second, "50 more acknowledged sends after the restart", func() bool { return load.count() >= atStop+50 })
	acked := load.finish()

	// Every acknowledged message is in the restarted broker's store, read from offset 0.
	a := newAdmin(t, c.NamesrvAddr)
	fresh := &rawClient{a: a, topic: topic, next: map[int32]int64{}}
	fresh.waitPulled(t, acked, fmt.Sprintf("all %d acknowledged messages after the restart", len(acked)))
	// And the consumer that kept running got each of them (at least once).
	waitFor(t, 60*time.Second, "the running consumer to receive every acknowledged message", func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		for _, b := range acked {
			if col.count[b] == 0 {
				return false
			}
		}
		return true
	})
	br.StopOK()
	c.NameServers[0].StopOK()
}

// TestBrokerRestartAfterSIGTERM stops the broker gracefully under load: it exits with code 0
// within the stop timeout (a held pull or a queued request must not keep it until its own 30 s
// shutdown deadline) and loses no acknowledged message.
func TestBrokerRestartAfterSIGTERM(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	restartBroker(t, "RestartTerm", func(b *testutil.Broker) {
		start := time.Now()
		b.StopOK()
		t.Logf("SIGTERM under load: exited with 0 after %v", time.Since(start).Round(time.Millisecond))
	})
}

// TestBrokerRestartAfterSIGKILL crashes the broker under load and starts it again: recovery keeps
// every acknowledged message (the OS keeps the page cache of an ASYNC_FLUSH store across a
// process crash).
func TestBrokerRestartAfterSIGKILL(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	restartBroker(t, "RestartKill", func(b *testutil.Broker) { b.Kill() })
}
