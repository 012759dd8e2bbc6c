// Package baseline is the benchmark's reference server: the least a server on the same remoting
// framework (gnet/v2, one frame decoder loop, the same socket options) can do per message. It
// answers every SEND_MESSAGE / SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE frame with a fixed SEND_OK
// response (only the opaque is patched in), GET_ROUTEINFO_BY_TOPIC with a route that points at
// itself (so an unmodified SDK producer can use it as its name server and its broker), and every
// other request with an empty SUCCESS. It stores nothing and decodes nothing but the opaque and
// the code, so its msg/s is the framework's limit on the machine: `mqbench e2e` reports Skiff's
// ratio to it.
//
// Requests with either header serialization are answered in the same one (JSON from the official
// client, RocketMQ's binary header from Skiff's SDK).
//
// Responses are written straight from the event loop, one write per event-loop turn per
// connection (every frame of one read is answered into one buffer).
package baseline

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/panjf2000/gnet/v2"
)

// Server is a running baseline server.
type Server struct {
	gnet.BuiltinEventEngine
	addr   string
	eng    gnet.Engine
	booted chan struct{}
	done   chan error
}

// Start listens on addr ("127.0.0.1:port") and serves until Stop.
func Start(addr string) (*Server, error) {
	s := &Server{addr: addr, booted: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		s.done <- gnet.Run(s, "tcp://"+addr, gnet.WithMulticore(true), gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay))
	}()
	select {
	case <-s.booted:
		return s, nil
	case err := <-s.done:
		return nil, fmt.Errorf("baseline: listen on %s: %w", addr, err)
	}
}

// Stop stops the engine.
func (s *Server) Stop(ctx context.Context) error { return s.eng.Stop(ctx) }

// OnBoot implements gnet.EventHandler.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	close(s.booted)
	return gnet.None
}

type connState struct{ out []byte }

// OnOpen implements gnet.EventHandler.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&connState{})
	return nil, gnet.None
}

// OnTraffic answers every whole frame in the inbound buffer.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	st := c.Context().(*connState)
	out := st.out[:0]
	for {
		n := c.InboundBuffered()
		if n < 8 {
			break
		}
		p, _ := c.Peek(8)
		length := int(binary.BigEndian.Uint32(p))
		hdrLen := int(binary.BigEndian.Uint32(p[4:]) & 0xFFFFFF)
		if length < 4 || length > 16<<20 || hdrLen > length-4 {
			return gnet.Close
		}
		if n < 4+length {
			break
		}
		frame, _ := c.Peek(4 + length)
		binaryHdr := p[4] == 1 // serializeType ROCKETMQ (Skiff's SDK) rather than JSON
		var code, opaque int32
		var ok bool
		if binaryHdr {
			code, opaque, ok = scanBinaryHeader(frame[8 : 8+hdrLen])
		} else {
			code, opaque, ok = scanHeader(frame[8 : 8+hdrLen])
		}
		if !ok {
			return gnet.Close
		}
		out = s.answer(out, code, opaque, binaryHdr)
		_, _ = c.Discard(4 + length)
	}
	if len(out) > 0 {
		_, _ = c.Write(out)
	}
	st.out = out
	return gnet.None
}

// scanHeader finds "code" and "opaque" in a JSON header (the form every Go and Java client sends).
func scanHeader(h []byte) (code, opaque int32, ok bool) {
	c, ok1 := intField(h, []byte(`"code":`))
	o, ok2 := intField(h, []byte(`"opaque":`))
	return int32(c), int32(o), ok1 && ok2
}

// scanBinaryHeader reads code (int16 at 0) and opaque (int32 at 5) of a ROCKETMQ header.
func scanBinaryHeader(h []byte) (code, opaque int32, ok bool) {
	if len(h) < 9 {
		return 0, 0, false
	}
	return int32(int16(binary.BigEndian.Uint16(h))), int32(binary.BigEndian.Uint32(h[5:])), true
}

func intField(h, key []byte) (int64, bool) {
	i := bytes.Index(h, key)
	if i < 0 {
		return 0, false
	}
	j := i + len(key)
	k := j
	for k < len(h) && (h[k] == '-' || (h[k] >= '0' && h[k] <= '9')) {
		k++
	}
	n, err := strconv.ParseInt(string(h[j:k]), 10, 32)
	return n, err == nil
}

const (
	sendMessage   = 10
	sendMessageV2 = 310
	sendBatch     = 320
	routeByTopic  = 105
)

// sendOKFields are the extFields of the fixed SEND_OK answer.
var sendOKFields = [][2]string{{"msgId", "7F00000100002A9F0000000000000000"}, {"queueId", "0"}, {"queueOffset", "0"},
	{"MSG_REGION", "DefaultRegion"}, {"TRACE_ON", "true"}}

// answer appends the answer to one request, in the request's header serialization.
func (s *Server) answer(out []byte, code, opaque int32, binaryHdr bool) []byte {
	var fields [][2]string
	var body []byte
	switch code {
	case sendMessage, sendMessageV2, sendBatch:
		fields = sendOKFields
	case routeByTopic:
		body = []byte(`{"brokerDatas":[{"brokerAddrs":{0:"` + s.addr + `"},"brokerName":"baseline","cluster":"Baseline"}],"filterServerTable":{},` +
			`"queueDatas":[{"brokerName":"baseline","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}`)
	}
	if binaryHdr {
		return appendBinaryResponse(out, opaque, fields, body)
	}
	ext := `{}`
	if fields != nil {
		ext = `{"msgId":"7F00000100002A9F0000000000000000","queueId":"0","queueOffset":"0","MSG_REGION":"DefaultRegion","TRACE_ON":"true"}`
	}
	return appendResponse(out, opaque, ext, body)
}

// appendBinaryResponse appends a SUCCESS response with a ROCKETMQ header: code, language GO,
// version 409, opaque, flag 1 (response), no remark, then the ext entries.
func appendBinaryResponse(out []byte, opaque int32, fields [][2]string, body []byte) []byte {
	start := len(out)
	out = append(out, 0, 0, 0, 0, 0, 0, 0, 0)
	out = binary.BigEndian.AppendUint16(out, 0) // SUCCESS
	out = append(out, 9)                        // GO
	out = binary.BigEndian.AppendUint16(out, 409)
	out = binary.BigEndian.AppendUint32(out, uint32(opaque))
	out = binary.BigEndian.AppendUint32(out, 1) // response flag
	out = binary.BigEndian.AppendUint32(out, 0) // no remark
	extAt := len(out)
	out = append(out, 0, 0, 0, 0)
	for _, f := range fields {
		out = binary.BigEndian.AppendUint16(out, uint16(len(f[0])))
		out = append(out, f[0]...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(f[1])))
		out = append(out, f[1]...)
	}
	binary.BigEndian.PutUint32(out[extAt:], uint32(len(out)-extAt-4))
	hdrLen := len(out) - start - 8
	out = append(out, body...)
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	binary.BigEndian.PutUint32(out[start+4:], 1<<24|uint32(hdrLen))
	return out
}

func appendResponse(out []byte, opaque int32, ext string, body []byte) []byte {
	start := len(out)
	out = append(out, 0, 0, 0, 0, 0, 0, 0, 0)
	out = append(out, `{"code":0,"language":"GO","version":409,"opaque":`...)
	out = strconv.AppendInt(out, int64(opaque), 10)
	out = append(out, `,"flag":1,"remark":"","extFields":`...)
	out = append(out, ext...)
	out = append(out, '}')
	hdrLen := len(out) - start - 8
	out = append(out, body...)
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	binary.BigEndian.PutUint32(out[start+4:], uint32(hdrLen))
	return out
}
