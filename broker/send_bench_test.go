package broker

import (
	"context"
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
	h := protocol.SendMessageRequestHeader{ProducerGroup: "bench", Topic: "BenchSend", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 4, QueueID: queueID, BornTimestamp: time.Now().UnixMilli(),
		Properties: "TAGS\x01T\x02UNIQ_KEY\x01" + message.NewUniqKey()}
	req := remoting.NewRequestList(remoting.SendMessageV2, make([]byte, 1024)).SetRawExt(h.AppendShort(nil))
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
