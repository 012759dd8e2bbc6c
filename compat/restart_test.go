package compat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/skiffmq/skiff/internal/testutil"
)

// TestBrokerCrashRestart kills the broker with SIGKILL while a producer and a push consumer are
// running, restarts it on the same port and store, and checks that both clients recover by
// themselves: every message acknowledged before or after the crash is delivered (redelivery of
// messages whose offsets were not yet committed is allowed).
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

	// send retries each message until the producer gets SendOK (the client's route can be stale
	// for up to its 30 s refresh after the broker comes back).
	send := func(prefix string, n int, within time.Duration) []string {
		var bodies []string
		deadline := time.Now().Add(within)
		for i := 0; i < n; {
			body := fmt.Sprintf("%s-%02d", prefix, i)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
			cancel()
			if err == nil && res.Status == primitive.SendOK {
				bodies = append(bodies, body)
				i++
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("SendSync %s still failing after %v: %v %+v", body, within, err, res)
			}
			time.Sleep(200 * time.Millisecond)
		}
		return bodies
	}
	before := send("before", 20, 10*time.Second)
	s.waitBodies(t, before, 60*time.Second, "before the crash")

	c.Broker.Kill()
	testutil.WaitFor(t, 10*time.Second, func() bool { return !testutil.ListsBroker(c.NameServers[0].Addr, c.Broker.Addr) },
		"the name server to drop the killed broker")
	br := testutil.StartBroker(t, bins.Broker, c.Broker.Options)

	after := send("after", 20, 90*time.Second)
	all := append(append([]string(nil), before...), after...)
	s.waitBodies(t, all, 90*time.Second, "after the restart")
	if n := len(s.snapshot()); n > 2*len(all) {
		t.Errorf("%d deliveries for %d messages", n, len(all))
	}
	if !t.Failed() {
		br.StopOK()
		c.NameServers[0].StopOK()
	}
}
