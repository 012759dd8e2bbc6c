package producer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// newBenchServer is the least a broker can do for the send benchmark: the producer's name server
// (a route of one broker at its own address, 8 queues) and that broker, answering every send with
// the same SEND_OK (encoded once), so the benchmark's allocations are the SDK's.
func newBenchServer(b *testing.B) *testutil.FixedServer {
	return testutil.NewFixedServer(b, func(addr string) map[int32]*remoting.Command {
		sendOK := remoting.NewResponse(&remoting.Command{}, remoting.Success, "")
		sendOK.ExtFields = map[string]string{"msgId": "7F00000100002A9F0000000000000000", "queueId": "3", "queueOffset": "12345",
			"MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}
		route := remoting.NewResponse(&remoting.Command{}, remoting.Success, "")
		route.Body = []byte(`{"queueDatas":[{"brokerName":"b1","readQueueNums":8,"writeQueueNums":8,"perm":6,"topicSysFlag":0}],` +
			`"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"0":"` + addr + `"}}]}`)
		return map[int32]*remoting.Command{remoting.SendMessageV2: sendOK, remoting.SendMessage: sendOK, remoting.GetRouteInfoByTopic: route}
	})
}

// BenchmarkSendAsync measures the SDK's async send path against benchServer: 256 sends in
// flight, 1 KiB bodies, one connection. Its allocations per op are the producer's and the
// transport's (the server allocates nothing per send); its CPU includes the server's reads
// and writes.
func BenchmarkSendAsync(b *testing.B) {
	s := newBenchServer(b)
	p, err := New(WithNameServers(s.Addr()), WithGroup("bench"), WithCompression(0, 5), WithSendTimeout(10*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	body := make([]byte, 1024)
	if _, err := p.Send(context.Background(), client.NewMessage("BenchTopic", body)); err != nil {
		b.Fatal(err)
	}
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var failed sync.Once
	cb := func(r *client.SendResult, err error) {
		if err != nil || r.QueueOffset != 12345 {
			failed.Do(func() { b.Errorf("send: %v %v", r, err) })
		}
		<-sem
		wg.Done()
	}
	msg := client.NewMessage("BenchTopic", body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for range b.N {
		sem <- struct{}{}
		wg.Add(1)
		if err := p.SendAsync(context.Background(), msg, cb); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}
