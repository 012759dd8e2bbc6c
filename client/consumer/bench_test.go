package consumer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
)

// pullServer is the least a broker can do for the pull benchmark: it is the consumer's name
// server and broker at once, answers every pull with one fixed FOUND answer of n records of
// size bytes (only the opaque patched in) and route requests with a route to itself, and
// allocates nothing per pull, so the benchmark's allocations are the SDK's.
type pullServer struct {
	l  net.Listener
	wg sync.WaitGroup
}

func newPullServer(b *testing.B, n, size int) *pullServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &pullServer{l: l}
	var body []byte
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
	answer := func(resp *remoting.Command) []byte {
		resp.MarkResponse()
		resp.SerializeType = remoting.SerializeRocketMQ
		f, err := resp.Encode()
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	found := remoting.NewResponse(&remoting.Command{}, remoting.Success, "")
	found.ExtFields = map[string]string{"nextBeginOffset": strconv.Itoa(n), "minOffset": "0", "maxOffset": "1000000",
		"suggestWhichBrokerId": "0"}
	found.Body = body
	route := remoting.NewResponse(&remoting.Command{}, remoting.Success, "")
	route.Body = []byte(`{"queueDatas":[{"brokerName":"b1","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicSysFlag":0}],` +
		`"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"0":"` + l.Addr().String() + `"}}]}`)
	frames := map[int32][]byte{remoting.PullMessage: answer(found), remoting.GetRouteInfoByTopic: answer(route)}
	empty := answer(remoting.NewResponse(&remoting.Command{}, remoting.Success, ""))
	var mu sync.Mutex
	var conns []net.Conn
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); serveFixed(c, frames, empty) }()
		}
	}()
	b.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// serveFixed answers each binary-header request with frames[code] (else empty), the opaque
// patched in.
func serveFixed(c net.Conn, frames map[int32][]byte, empty []byte) {
	br := bufio.NewReaderSize(c, 64<<10)
	var frame, out []byte
	for {
		var lb [4]byte
		if _, err := io.ReadFull(br, lb[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(lb[:]))
		if cap(frame) < n {
			frame = make([]byte, n)
		}
		frame = frame[:n]
		if _, err := io.ReadFull(br, frame); err != nil || frame[0] != remoting.SerializeRocketMQ {
			return
		}
		hdr := frame[4:]
		a, ok := frames[int32(int16(binary.BigEndian.Uint16(hdr)))]
		if !ok {
			a = empty
		}
		start := len(out)
		out = append(out, a...)
		binary.BigEndian.PutUint32(out[start+4+4+5:], binary.BigEndian.Uint32(hdr[5:]))
		if br.Buffered() == 0 || len(out) > 64<<10 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

// BenchmarkPull measures the SDK's pull path (PullConsumer.PullWait: the request, the transport,
// the decoding of 32 records of 1 KiB) against pullServer, with 4 pulls in flight (one
// goroutine per queue, as mqbench e2e's consume row). An op is one pull of 32 messages; its
// allocations are the SDK's (the server allocates nothing per pull); its CPU includes the
// server's reads and writes.
func BenchmarkPull(b *testing.B) {
	s := newPullServer(b, 32, 1024)
	pc, err := NewPullConsumer("bench", WithNameServers(s.l.Addr().String()))
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
