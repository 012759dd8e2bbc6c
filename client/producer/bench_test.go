package producer

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/remoting"
)

// benchServer is the least a broker can do for the send benchmark: it is the producer's name
// server and broker at once, answers every send with one fixed SEND_OK (only the opaque
// patched in) and route requests with a route to itself, and allocates nothing per send, so a
// benchmark's allocations are the SDK's. Other requests get an empty SUCCESS.
type benchServer struct {
	l  net.Listener
	wg sync.WaitGroup
}

func newBenchServer(b *testing.B) *benchServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &benchServer{l: l}
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
			go func() { defer s.wg.Done(); s.serve(c) }()
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

func (s *benchServer) addr() string { return s.l.Addr().String() }

// encode is the frame of resp as an answer to a request with opaque 0 (patched per answer).
func encodeAnswer(resp *remoting.Command) []byte {
	resp.MarkResponse()
	resp.SerializeType = remoting.SerializeRocketMQ
	f, err := resp.Encode()
	if err != nil {
		panic(err)
	}
	return f
}

func (s *benchServer) serve(c net.Conn) {
	route := `{"queueDatas":[{"brokerName":"b1","readQueueNums":8,"writeQueueNums":8,"perm":6,"topicSysFlag":0}],` +
		`"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"0":"` + s.addr() + `"}}]}`
	sendOK := remoting.NewResponse(&remoting.Command{}, remoting.Success, "")
	sendOK.ExtFields = map[string]string{"msgId": "7F00000100002A9F0000000000000000", "queueId": "3", "queueOffset": "12345",
		"MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}
	ok := encodeAnswer(sendOK)
	routeResp := remoting.NewResponse(&remoting.Command{}, remoting.Success, "")
	routeResp.Body = []byte(route)
	routeFrame := encodeAnswer(routeResp)
	empty := encodeAnswer(remoting.NewResponse(&remoting.Command{}, remoting.Success, ""))
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
		if _, err := io.ReadFull(br, frame); err != nil {
			return
		}
		if frame[0] != remoting.SerializeRocketMQ { // the SDK sends binary headers by default
			return
		}
		hdr := frame[4:]
		code := int32(int16(binary.BigEndian.Uint16(hdr)))
		opaque := binary.BigEndian.Uint32(hdr[5:])
		a := empty
		switch code {
		case remoting.SendMessageV2, remoting.SendMessage:
			a = ok
		case remoting.GetRouteInfoByTopic:
			a = routeFrame
		}
		start := len(out)
		out = append(out, a...)
		binary.BigEndian.PutUint32(out[start+4+4+5:], opaque) // length, serialization/header length, code, language, version
		if br.Buffered() == 0 || len(out) > 32<<10 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

// BenchmarkSendAsync measures the SDK's async send path against benchServer: 256 sends in
// flight, 1 KiB bodies, one connection. Its allocations per op are the producer's and the
// transport's (the server allocates nothing per send); its CPU includes the server's reads
// and writes.
func BenchmarkSendAsync(b *testing.B) {
	s := newBenchServer(b)
	p, err := New(WithNameServers(s.addr()), WithGroup("bench"), WithCompression(0, 5), WithSendTimeout(10*time.Second))
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
