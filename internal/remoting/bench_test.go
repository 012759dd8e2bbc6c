package remoting

import "testing"

func benchCommand(st byte) *Command {
	c := NewRequest(SendMessageV2, map[string]string{"a": "ProducerGroup", "b": "TopicTest", "c": "TBW102", "d": "4",
		"e": "1", "f": "0", "g": "1700000000000", "h": "0", "i": "UNIQ_KEY\x017F000001\x02TAGS\x01TagA", "j": "0", "k": "false", "m": "false"},
		make([]byte, 1024))
	c.SerializeType = st
	return c
}

func BenchmarkRemotingEncode(b *testing.B) {
	for _, st := range []struct {
		name string
		t    byte
	}{{"json", SerializeJSON}, {"rocketmq", SerializeRocketMQ}} {
		b.Run(st.name, func(b *testing.B) {
			c := benchCommand(st.t)
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				out, err := c.AppendFrame(buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(out)))
			}
		})
	}
}

func BenchmarkRemotingDecode(b *testing.B) {
	for _, st := range []struct {
		name string
		t    byte
	}{{"json", SerializeJSON}, {"rocketmq", SerializeRocketMQ}} {
		b.Run(st.name, func(b *testing.B) {
			frame, err := benchCommand(st.t).Encode()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			// Each decode gets its own copy, as the server makes one per frame (the JSON decoder
			// unescapes in place).
			buf := make([]byte, len(frame)-4)
			for b.Loop() {
				copy(buf, frame[4:])
				if _, err := DecodeFrame(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(st.name+"/raw", func(b *testing.B) {
			frame, err := benchCommand(st.t).Encode()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			buf := make([]byte, len(frame)-4)
			for b.Loop() {
				copy(buf, frame[4:])
				if _, err := DecodeFrameRaw(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
