package compat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/skiffmq/skiff/internal/testutil"
)

// TestNameServerFailover runs two name servers, kills one with SIGKILL, and checks that a running
// producer and consumer carry on, and that a new producer and consumer start through the survivor.
func TestNameServerFailover(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	const topic = "CompatFailover"
	c := startCluster(t, 2)
	createTopic(t, c, topic, 4)
	ns := c.NamesrvList()

	p := newProducer(t, ns, "failover")
	s := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-failover", instance: "c-failover", topic: topic, sink: s})
	send := func(p interface {
		SendSync(context.Context, ...*primitive.Message) (*primitive.SendResult, error)
	}, prefix string, n int) []string {
		var bodies []string
		for i := range n {
			body := fmt.Sprintf("%s-%02d", prefix, i)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
			cancel()
			if err != nil || res.Status != primitive.SendOK {
				t.Fatalf("SendSync %s: %v %+v", body, err, res)
			}
			bodies = append(bodies, body)
		}
		return bodies
	}
	before := send(p, "before", 20)
	s.waitBodies(t, before, 60*time.Second, "before the kill")

	c.NameServers[0].Kill()
	if c.NameServers[0].ExitCode() != -1 {
		t.Fatalf("name server exit code %d after SIGKILL", c.NameServers[0].ExitCode())
	}
	after := send(p, "after", 20)
	s.waitBodies(t, after, 60*time.Second, "after the kill, running clients")

	// New clients resolve the route through the surviving name server.
	p2 := newProducer(t, ns, "failover-new")
	fresh := send(p2, "fresh", 20)
	s.waitBodies(t, fresh, 60*time.Second, "from a producer started after the kill")
	s2 := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-failover-new", instance: "c-failover-new", topic: topic, sink: s2})
	all := append(append(append([]string(nil), before...), after...), fresh...)
	s2.waitBodies(t, all, 60*time.Second, "by a consumer started after the kill")

	// The broker still registers with the survivor.
	if !testutil.ListsBroker(c.NameServers[1].Addr, c.Broker.Addr) {
		t.Fatalf("surviving name server %s no longer lists broker %s", c.NameServers[1].Addr, c.Broker.Addr)
	}
	if !t.Failed() {
		c.Broker.StopOK()
		c.NameServers[1].StopOK()
	}
}
