package broker

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// handleResetOffset answers INVOKE_BROKER_TO_RESET_OFFSET (222): for each queue of the topic the
// target is the offset of the message stored at timestamp (-1: the queue's end); it replaces the
// group's offset when isForce is set or when it is smaller. Online consumers of the group are told
// with RESET_CONSUMER_CLIENT_OFFSET (220). The body is ResetOffsetBody in fastjson form.
func (b *Broker) handleResetOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	topic, group := h.str("topic", true), h.str("group", true)
	ts := h.i64("timestamp", true)
	force := h.boolean("isForce")
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	if !b.conf().IsMaster() {
		return errResp(req, remoting.SystemError, "the broker[%s] is a slave; reset offsets on the master", b.conf().BrokerAddr())
	}
	tc, ok := b.topics.Get(topic)
	if !ok {
		return errResp(req, remoting.TopicNotExist, "topic[%s] not exist", topic)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"offsetTable":{`)
	for q := int32(0); q < tc.ReadQueueNums; q++ {
		target := b.store.MaxOffsetInQueue(topic, q)
		if ts >= 0 {
			target = b.store.OffsetByTime(topic, q, ts)
		}
		cur := b.offsets.Query(group, topic, q)
		if force || cur < 0 || target < cur {
			b.offsets.Commit(group, topic, q, target)
		} else {
			target = cur
		}
		if q > 0 {
			buf.WriteByte(',')
		}
		writeMQKey(&buf, topic, b.conf().BrokerName, q)
		fmt.Fprintf(&buf, ":%d", target)
	}
	buf.WriteString(`}}`)
	body := buf.Bytes()
	for _, c := range b.clients.consumerConns(group) {
		n := remoting.NewRequest(remoting.ResetConsumerClientOffset, map[string]string{
			"topic": topic, "group": group, "timestamp": strconv.FormatInt(ts, 10), "isForce": strconv.FormatBool(force)}, body)
		if err := c.InvokeOneway(n); err != nil {
			b.log.Debug("reset offset notification failed", "addr", c.RemoteAddr(), "err", err)
		}
	}
	b.log.Info("consumer offsets reset", "group", group, "topic", topic, "timestamp", ts, "force", force)
	return respond(req, remoting.Success, "", nil, body)
}
