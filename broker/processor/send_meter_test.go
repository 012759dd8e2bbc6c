package processor

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// countingMeter counts the meter look-ups, the recorded sends and the producer records.
type countingMeter struct {
	mu       sync.Mutex
	lookups  map[string]int // topic -> Meter calls
	produced map[string]int // conn/group/topic -> Produced calls
	msgs     map[string]int // topic -> messages recorded
	bytes    map[string]int // topic -> body bytes recorded
}

type topicMeter struct {
	m     *countingMeter
	topic string
}

func (t topicMeter) RecordSend(n, bytes int, start time.Time) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if start.IsZero() || time.Since(start) < 0 {
		panic("send recorded without a start time")
	}
	t.m.msgs[t.topic] += n
	t.m.bytes[t.topic] += bytes
}

// TestSendMeterIsLookedUpOncePerConnectionAndPair: with Send.Meter set, the sends of one
// connection under one (producer group, topic) ask Meter and call Produced once, the first
// time; every send is recorded on the meter with its message count and body size. Another
// group, or another connection, is a pair of its own; a connection that already has
// maxMemoPairs pairs records further pairs on every send (Produced each time, nothing lost).
// Sends run inline on the event loop (lent requests) and on the pool.
func TestSendMeterIsLookedUpOncePerConnectionAndPair(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) {
			testSendMeter(t, inline)
		})
	}
}

func testSendMeter(t *testing.T, inline bool) {
	cm := &countingMeter{lookups: map[string]int{}, produced: map[string]int{}, msgs: map[string]int{}, bytes: map[string]int{}}
	p := newSend(&fakeStore{}, &fakeReplicator{})
	p.Meter = func(topic string) SendMeter {
		cm.mu.Lock()
		defer cm.mu.Unlock()
		cm.lookups[topic]++
		return topicMeter{cm, topic}
	}
	p.Produced = func(c *server.Conn, group, topic string) {
		cm.mu.Lock()
		defer cm.mu.Unlock()
		cm.produced[fmt.Sprintf("%d/%s/%s", c.ID(), group, topic)]++
	}
	srv := server.New(server.Config{Addr: "127.0.0.1:0"})
	srv.HandleRaw(remoting.SendMessageV2, server.PoolSend, p.Handle)
	if inline {
		srv.SetInline(remoting.SendMessageV2, func(*server.Conn, *remoting.Command) bool { return true })
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = srv.Shutdown(ctx) })
	clients := []*rpc.Client{rpc.New(rpc.Config{}), rpc.New(rpc.Config{})}
	for _, c := range clients {
		defer c.Close()
	}
	send := func(cli *rpc.Client, group string, body int) {
		t.Helper()
		h := protocol.SendMessageRequestHeader{ProducerGroup: group, Topic: "T", DefaultTopic: "TBW102",
			DefaultTopicQueueNums: 4, QueueID: 1, BornTimestamp: 1}
		req := remoting.NewRequestList(remoting.SendMessageV2, make([]byte, body)).SetRawExt(h.AppendShort(nil))
		resp, err := cli.Invoke(ctx, srv.Addr(), req)
		if err != nil || resp.Code != remoting.Success {
			t.Fatalf("send as %s: %v %v", group, err, resp)
		}
	}
	for i := range 20 {
		send(clients[0], "g1", 10+i)
	}
	for i := range 10 {
		send(clients[0], fmt.Sprintf("g%d", 1+i%2), 1)
	}
	for range 5 {
		send(clients[1], "g1", 1)
	}
	// Connection 0 has g1 and g2; g3..g8 fill its memo, g9 and g10 find it full.
	for g := 3; g <= 10; g++ {
		send(clients[0], fmt.Sprintf("g%d", g), 1)
		send(clients[0], fmt.Sprintf("g%d", g), 1)
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	const sends = 20 + 10 + 5 + 16
	if cm.msgs["T"] != sends || cm.bytes["T"] != (10+29)*20/2+10+5+16 {
		t.Fatalf("recorded %d messages of %d bytes, want %d of %d", cm.msgs["T"], cm.bytes["T"], sends, (10+29)*20/2+10+5+16)
	}
	var perConn [2]map[string]int
	for k, n := range cm.produced {
		var id uint64
		var group string
		if _, err := fmt.Sscanf(k, "%d/%s", &id, &group); err != nil {
			t.Fatal(err)
		}
		i := 0
		if id != 1 {
			i = 1
		}
		if perConn[i] == nil {
			perConn[i] = map[string]int{}
		}
		perConn[i][group] = n
	}
	want0 := map[string]int{"g1/T": 1, "g2/T": 1, "g3/T": 1, "g4/T": 1, "g5/T": 1, "g6/T": 1, "g7/T": 1, "g8/T": 1, "g9/T": 2, "g10/T": 2}
	if fmt.Sprint(perConn[0]) != fmt.Sprint(want0) || fmt.Sprint(perConn[1]) != fmt.Sprint(map[string]int{"g1/T": 1}) {
		t.Fatalf("Produced calls per connection %v, want %v and map[g1/T:1]", perConn, want0)
	}
	if cm.lookups["T"] != 1+1+1+6+4 {
		t.Fatalf("Meter asked %d times, want %d", cm.lookups["T"], 1+1+1+6+4)
	}
}

// TestSendOpPoolResetsAndDropsLargeReferences: an op taken from the pool is zero (buffers
// aside) however its last send left it, and an op that referenced an owned copy of its request
// lets go of it when it is released, not only when it is taken again.
func TestSendOpPoolResetsAndDropsLargeReferences(t *testing.T) {
	for i := range 100 {
		op := newSendOp(true)
		if op.sh.Topic != "" || op.msg.Body != nil || op.dreq != nil || op.bodyLen != 0 || op.conn != nil {
			t.Fatalf("round %d: a pooled op came back dirty: topic %q, body %d bytes, dreq %v, bodyLen %d",
				i, op.sh.Topic, len(op.msg.Body), op.dreq, op.bodyLen)
		}
		op.sh.Topic, op.msg.Body, op.bodyLen, op.dreq = "T", []byte("body"), 4, &op.req
		op.release()
	}
	op := newSendOp(true)
	owned := &remoting.Command{Body: make([]byte, 100)}
	op.dreq, op.msg.Body, op.bodyLen = owned, owned.Body, 100
	op.release()
	if op.dreq != nil || op.msg.Body != nil {
		t.Fatalf("a released op still references its owned request (dreq %v, body %d bytes)", op.dreq, len(op.msg.Body))
	}
}
