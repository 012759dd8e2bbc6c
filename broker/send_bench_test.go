package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// sdkSendFrame is one SEND_MESSAGE_V2 frame (without its length field) as Skiff's SDK sends it:
// JSON header with the one-letter fields, TAGS and UNIQ_KEY properties, a 1 KiB body.
func sdkSendFrame(tb testing.TB, queueID int32) []byte {
	tb.Helper()
	return sendFrameAs(tb, queueID, remoting.SerializeJSON)
}

// sendFrameAs is sdkSendFrame with the header serialized as ser (the SDK's default is
// SerializeRocketMQ, RocketMQ's binary header).
func sendFrameAs(tb testing.TB, queueID int32, ser byte) []byte {
	tb.Helper()
	h := protocol.SendMessageRequestHeader{ProducerGroup: "bench", Topic: "BenchSend", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 4, QueueID: queueID, BornTimestamp: time.Now().UnixMilli(),
		Properties: "TAGS\x01T\x02UNIQ_KEY\x01" + message.NewUniqKey()}
	req := remoting.NewRequestList(remoting.SendMessageV2, make([]byte, 1024)).SetRawExt(h.AppendShort(nil))
	req.SerializeType = ser
	frame, err := req.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return frame[4:]
}

// BenchmarkBrokerSendPath is the broker's work for one async-published 1 KiB message outside
// the event loop's socket I/O: the frame copied out of the read buffer (as the server does),
// decoded, handed to the send processor (checks, message, commit-log append, statistics,
// metrics) and its answer encoded into a reused output buffer, on a real broker and store
// (ASYNC_FLUSH). allocs/op is the broker path's allocations per message.
//
//	go test -run '^$' -bench BrokerSendPath -benchmem ./broker/
func BenchmarkBrokerSendPath(b *testing.B) {
	tb := startBroker(b, func(c *Config) { c.MappedFileSizeCommitLog = 1 << 30 })
	br := tb.b
	frame := sdkSendFrame(b, 0)
	ctx := context.Background()
	out := make([]byte, 0, 64<<10)
	send := func() {
		f := make([]byte, len(frame))
		copy(f, frame)
		cmd, err := remoting.DecodeFrameRaw(f)
		if err != nil {
			b.Fatal(err)
		}
		resp := br.sendProc.Handle(ctx, nil, cmd)
		if resp.Code != remoting.Success {
			b.Fatalf("send answered %d %q", resp.Code, resp.Remark)
		}
		if out, err = resp.AppendFrame(out[:0]); err != nil {
			b.Fatal(err)
		}
	}
	send() // creates the topic
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	for range b.N {
		send()
	}
}

// BenchmarkBrokerSendConn is async publishing over real connections to a real broker, under
// ASYNC_FLUSH and SYNC_FLUSH: 4 connections keep up to 256 SEND_MESSAGE_V2 frames (as the SDK
// sends them: sdkSendFrame with RocketMQ's binary header, 1 KiB bodies) in flight each, written and read raw (no SDK), so the send runs
// the way mqbench e2e's async rows drive it: decoded on the event loop, run inline, and under
// SYNC_FLUSH answered by the store's answering goroutine after the covering msync. allocs/op
// and cpu-us/msg (getrusage: the whole process, the raw client included) are per message.
//
//	go test -run '^$' -bench BrokerSendConn -benchtime 200000x -benchmem ./broker/
func BenchmarkBrokerSendConn(b *testing.B) {
	for _, flush := range []string{AsyncFlush, SyncFlush} {
		b.Run("flush="+flush, func(b *testing.B) {
			tb := startBroker(b, func(c *Config) { c.MappedFileSizeCommitLog = 1 << 30; c.FlushDiskType = flush })
			const conns, window = 4, 256
			frames := make([][]byte, conns)
			for i := range frames {
				body := sendFrameAs(b, int32(i), remoting.SerializeRocketMQ)
				f := make([]byte, 4, 4+len(body))
				binary.BigEndian.PutUint32(f, uint32(len(body)))
				frames[i] = append(f, body...)
			}
			ncs := make([]net.Conn, conns)
			for i := range ncs {
				nc, err := net.Dial("tcp", tb.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				ncs[i] = nc
			}
			// One send first: it creates the topic (a send to a new topic does not run inline).
			if resp, err := sendRaw(ncs[0], frames[0]); err != nil || resp.Code != remoting.Success {
				b.Fatalf("first send: %v %+v", err, resp)
			}
			b.ReportAllocs()
			b.SetBytes(1024)
			cpu0 := processCPU(b)
			b.ResetTimer()
			var wg sync.WaitGroup
			errs := make(chan error, 2*conns)
			for i, nc := range ncs {
				n := b.N / conns
				if i < b.N%conns {
					n++
				}
				slots := make(chan struct{}, window)
				wg.Add(2)
				go func() { // reader
					defer wg.Done()
					br := bufio.NewReaderSize(nc, 64<<10)
					for range n {
						resp, err := remoting.ReadCommand(br, 0)
						if err == nil && resp.Code != remoting.Success {
							err = fmt.Errorf("send answered %d %q", resp.Code, resp.Remark)
						}
						if err != nil {
							errs <- err
							return
						}
						<-slots
					}
				}()
				go func() { // writer
					defer wg.Done()
					bw := bufio.NewWriterSize(nc, 64<<10)
					for range n {
						select {
						case slots <- struct{}{}:
						default: // the window is full: send what is buffered, then wait for an answer
							if err := bw.Flush(); err != nil {
								errs <- err
								return
							}
							slots <- struct{}{}
						}
						if _, err := bw.Write(frames[i]); err != nil {
							errs <- err
							return
						}
					}
					if err := bw.Flush(); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-us/msg")
		})
	}
}

// sendRaw writes one frame on nc and reads its answer.
func sendRaw(nc net.Conn, frame []byte) (*remoting.Command, error) {
	if _, err := nc.Write(frame); err != nil {
		return nil, err
	}
	return remoting.ReadCommand(bufio.NewReader(nc), 0)
}
