package consumer

import (
	"bytes"
	"context"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// newPullServer is the least a broker can do for the pull benchmark: the consumer's name server
// (a route of one broker at its own address, 4 queues) and that broker, answering every pull with
// the same n records of size bytes (encoded once), so the benchmark's allocations are the SDK's.
func newPullServer(b *testing.B, n, size int) *testutil.FixedServer {
	var body []byte
	var err error
	for i := range n {
		m := &message.Message{Topic: "BenchTopic", QueueID: 0, QueueOffset: int64(i), CommitLogOffset: int64(i) * 1200,
			BornTimestamp: 1700000000123 + int64(i), BornHost: netip.MustParseAddrPort("10.0.0.7:53211"),
			StoreTimestamp: 1700000000456 + int64(i), StoreHost: netip.MustParseAddrPort("10.0.0.1:10911"),
			Body:       bytes.Repeat([]byte{'x'}, size),
			Properties: map[string]string{client.PropertyUniqKey: message.NewUniqKey(), client.PropertyTags: "TagA", "WAIT": "true"}}
		if body, err = message.Encode(body, m); err != nil {
			b.Fatal(err)
		}
	}
	return testutil.NewFixedServer(b, func(addr string) map[int32]*remoting.Command {
		found := remoting.NewResponse(&remoting.Command{}, remoting.Success, "")
		found.ExtFields = map[string]string{"nextBeginOffset": strconv.Itoa(n), "minOffset": "0", "maxOffset": "1000000",
			"suggestWhichBrokerId": "0"}
		found.Body = body
		route := remoting.NewResponse(&remoting.Command{}, remoting.Success, "")
		route.Body = []byte(`{"queueDatas":[{"brokerName":"b1","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicSysFlag":0}],` +
			`"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"0":"` + addr + `"}}]}`)
		return map[int32]*remoting.Command{remoting.PullMessage: found, remoting.GetRouteInfoByTopic: route}
	})
}

// BenchmarkPull measures the SDK's pull path (PullConsumer.PullWait: the request, the transport,
// the decoding of 32 records of 1 KiB) against pullServer, with 4 pulls in flight (one
// goroutine per queue, as mqbench e2e's consume row). An op is one pull of 32 messages; its
// allocations are the SDK's (the server allocates nothing per pull); its CPU includes the
// server's reads and writes.
func BenchmarkPull(b *testing.B) {
	s := newPullServer(b, 32, 1024)
	pc, err := NewPullConsumer("bench", WithNameServers(s.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		b.Fatal(err)
	}
	defer pc.Shutdown(context.Background())
	qs, err := pc.Queues(context.Background(), "BenchTopic")
	if err != nil || len(qs) != 4 {
		b.Fatalf("queues %v, %v", qs, err)
	}
	b.ReportAllocs()
	b.SetBytes(32 * 1024)
	b.ResetTimer()
	var next sync.WaitGroup
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	for _, q := range qs {
		next.Add(1)
		go func(q client.MessageQueue) {
			defer next.Done()
			for range work {
				res, err := pc.PullWait(context.Background(), q, "*", 0, 32, time.Second)
				if err != nil || len(res.Messages) != 32 {
					b.Errorf("pull: %v", err)
					return
				}
			}
		}(q)
	}
	next.Wait()
}
