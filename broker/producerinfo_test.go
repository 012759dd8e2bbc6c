package broker

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// TestProducerTopicsPerConnection: the broker records the (producer group, topic) pairs of the
// sends it stored, per connection, and GET_ALL_PRODUCER_INFO lists them with each connection;
// a pair already seen costs no allocation; a connection keeps at most maxTopicsPerConn pairs
// and says so; the pairs go when the connection closes.
func TestProducerTopicsPerConnection(t *testing.T) {
	var conn atomic.Pointer[server.Conn]
	tb := startBrokerHook(t, nil, func(b *Broker) {
		rec := b.sendProc.Produced
		b.sendProc.Produced = func(c *server.Conn, group, topic string) {
			conn.Store(c)
			rec(c, group, topic)
		}
	})
	hb, _ := json.Marshal(heartbeatData{ClientID: "127.0.0.1@p1", ProducerDataSet: []producerData{{GroupName: "pg"}}})
	if r := tb.call(t, remoting.HeartBeat, nil, hb, 3*time.Second); r.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", r.Code, r.Remark)
	}
	for _, topic := range []string{"PairB", "PairA", "PairB", "PairA"} {
		if r := tb.send(t, topic, 0, "", "", "x"); r.Code != remoting.Success {
			t.Fatalf("send to %s: %d %s", topic, r.Code, r.Remark)
		}
	}
	type info struct {
		ClientID   string   `json:"clientId"`
		Topics     []string `json:"topics"`
		MoreTopics bool     `json:"moreTopics"`
	}
	all := func() map[string][]info {
		t.Helper()
		r := tb.call(t, remoting.GetAllProducerInfo, nil, nil, 3*time.Second)
		if r.Code != remoting.Success {
			t.Fatalf("GET_ALL_PRODUCER_INFO: %d %s", r.Code, r.Remark)
		}
		var body struct {
			Data map[string][]info `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("decode %s: %v", r.Body, err)
		}
		return body.Data
	}
	got := all()
	if len(got["pg"]) != 1 || got["pg"][0].ClientID != "127.0.0.1@p1" || strings.Join(got["pg"][0].Topics, ",") != "PairA,PairB" || got["pg"][0].MoreTopics {
		t.Fatalf("producer info = %+v, want pg with one connection that sent to PairA,PairB", got)
	}

	c := conn.Load()
	if c == nil {
		t.Fatal("the send path never called Produced")
	}
	// Strings that are not the stored ones, as a request frame's would be.
	group, topic := string([]byte("pg")), string([]byte("PairA"))
	if n := testing.AllocsPerRun(200, func() { tb.b.produced.record(c, group, topic) }); n != 0 {
		t.Errorf("recording a pair already seen allocates %.1f times per send, want 0", n)
	}

	// Another group on the same connection is kept apart; past the cap the rest is flagged.
	tb.b.produced.record(c, "other", "PairC")
	for i := 0; i < maxTopicsPerConn+10; i++ {
		tb.b.produced.record(c, "pg", fmt.Sprintf("Many-%03d", i))
	}
	topics, more := tb.b.produced.topics(c.ID(), "pg")
	if len(topics) != maxTopicsPerConn-1 || !more { // PairA, PairB, PairC and maxTopicsPerConn-3 of Many-*
		t.Fatalf("after %d more topics: %d kept for pg, more=%v; want %d and more", maxTopicsPerConn+10, len(topics), more, maxTopicsPerConn-1)
	}
	if o, _ := tb.b.produced.topics(c.ID(), "other"); strings.Join(o, ",") != "PairC" {
		t.Fatalf("group other has topics %v, want PairC", o)
	}

	tb.cli.CloseAddr(tb.addr)
	waitFor(t, 5*time.Second, func() bool { return tb.b.produced.connCount() == 0 }, "the closed connection's pairs to be dropped")
	// A send on a connection that already closed records nothing.
	tb.b.produced.record(c, "pg", "Late")
	if n := tb.b.produced.connCount(); n != 0 {
		t.Fatalf("a closed connection was recorded again (%d connections)", n)
	}
}

// BenchmarkProducedRecordSeen is the send path's cost of a (group, topic) pair already recorded,
// from parallel goroutines as the send workers call it.
func BenchmarkProducedRecordSeen(b *testing.B) {
	var conn atomic.Pointer[server.Conn]
	tb := startBrokerHook(b, nil, func(br *Broker) {
		rec := br.sendProc.Produced
		br.sendProc.Produced = func(c *server.Conn, group, topic string) { conn.Store(c); rec(c, group, topic) }
	})
	hb, _ := json.Marshal(heartbeatData{ClientID: "127.0.0.1@p1", ProducerDataSet: []producerData{{GroupName: "pg"}}})
	tb.call(b, remoting.HeartBeat, nil, hb, 3*time.Second)
	ext := map[string]string{"producerGroup": "pg", "topic": "BenchPair", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": "0", "sysFlag": "0", "bornTimestamp": "1", "flag": "0", "properties": "", "reconsumeTimes": "0"}
	if r := tb.call(b, remoting.SendMessage, ext, []byte("x"), 5*time.Second); r.Code != remoting.Success {
		b.Fatalf("send: %d %s", r.Code, r.Remark)
	}
	c := conn.Load()
	for i := 0; i < 7; i++ {
		tb.b.produced.record(c, "pg", fmt.Sprintf("Other-%d", i))
	}
	group, topic := string([]byte("pg")), string([]byte("BenchPair"))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tb.b.produced.record(c, group, topic)
		}
	})
}
