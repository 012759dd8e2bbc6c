package compat

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/skiffmq/skiff/internal/testutil"
)

// TestBrokerCrashRestart kills the broker with SIGKILL while a producer keeps sending and a push
// consumer keeps consuming, restarts it on the same port and store, and checks that both clients
// recover by themselves: every message acknowledged before, during or after the crash is
// delivered (redelivery of messages whose offsets were not yet committed is allowed).
func TestBrokerCrashRestart(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	const topic = "CompatCrash"
	c := startCluster(t, 1)
	createTopic(t, c, topic, 4)
	ns := c.NamesrvList()
	p := newProducer(t, ns, "crash")
	s := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-crash", instance: "c-crash", topic: topic, sink: s})

	// The producer sends without pause from its own goroutine, through the crash and the restart
	// (the client's route can be stale for up to its 30 s refresh after the broker comes back);
	// only messages answered SendOK are acknowledged.
	var mu sync.Mutex
	var acked []string
	ackedN := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := fmt.Sprintf("crash-%05d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
			cancel()
			if err == nil && res.Status == primitive.SendOK {
				mu.Lock()
				acked = append(acked, body)
				mu.Unlock()
				continue
			}
			select { // the broker is away: do not spin
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	stopSending := func() []string {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	t.Cleanup(func() { stopSending() })
	testutil.WaitFor(t, 30*time.Second, func() bool { return ackedN() >= 30 && s.distinct() >= 10 },
		"30 acknowledged sends and 10 deliveries before the crash")

	c.Broker.Kill() // while the producer is sending and the consumer consuming
	atKill := ackedN()
	testutil.WaitFor(t, 10*time.Second, func() bool { return !testutil.ListsBroker(c.NameServers[0].Addr, c.Broker.Addr) },
		"the name server to drop the killed broker")
	br := testutil.StartBroker(t, bins.Broker, c.Broker.Options)
	testutil.WaitFor(t, 90*time.Second, func() bool { return ackedN() >= atKill+20 }, "20 acknowledged sends after the restart")
	all := stopSending()
	s.waitBodies(t, all, 90*time.Second, "after the restart")
	if n := len(s.snapshot()); n > 2*len(all) {
		t.Errorf("%d deliveries for %d messages", n, len(all))
	}
	if !t.Failed() {
		br.StopOK()
		c.NameServers[0].StopOK()
	}
}
