package broker

import (
	"context"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// handleQueryConsumerOffset answers QUERY_CONSUMER_OFFSET (§2.6): the stored offset, or 0 for a new
// group on an empty or young queue, else QUERY_NOT_FOUND so the client applies consume-from-where.
func (b *Broker) handleQueryConsumerOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	group, topic, qid := h.str("consumerGroup", true), h.str("topic", true), h.i32("queueId", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	if off := b.offsets.Query(group, topic, qid); off >= 0 {
		return respond(req, remoting.Success, "", map[string]string{"offset": i64s(off)}, nil)
	}
	minOff := b.store.MinOffsetInQueue(topic, qid)
	if minOff <= 0 && !b.entryOnDisk(topic, qid, 0) {
		return respond(req, remoting.Success, "", map[string]string{"offset": "0"}, nil)
	}
	return errResp(req, remoting.QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
}

// entryOnDisk reports whether the message at a queue offset lies further behind the commit-log end
// than the in-memory window (an empty queue has no such entry).
func (b *Broker) entryOnDisk(topic string, qid int32, offset int64) bool {
	if b.store.MaxOffsetInQueue(topic, qid) <= offset {
		return false
	}
	res := b.store.GetMessage(topic, qid, offset, 1, nil)
	if len(res.Messages) == 0 {
		return false
	}
	return res.MaxPhyOffset-res.LastPhyOffset > b.memoryBehindLimit()
}

func (b *Broker) handleUpdateConsumerOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	group, topic, qid, off := h.str("consumerGroup", true), h.str("topic", true), h.i32("queueId", true), h.i64("commitOffset", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	if !b.conf().IsMaster() {
		return errResp(req, remoting.SystemError, "the broker[%s] is a slave; commit offsets to the master", b.conf().BrokerAddr())
	}
	b.offsets.Commit(group, topic, qid, off)
	return respond(req, remoting.Success, "", nil, nil)
}

func (b *Broker) handleGetMaxOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	topic, qid := h.str("topic", true), h.i32("queueId", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	return respond(req, remoting.Success, "", map[string]string{"offset": i64s(b.store.MaxOffsetInQueue(topic, qid))}, nil)
}

func (b *Broker) handleGetMinOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	topic, qid := h.str("topic", true), h.i32("queueId", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	return respond(req, remoting.Success, "", map[string]string{"offset": i64s(b.store.MinOffsetInQueue(topic, qid))}, nil)
}

func (b *Broker) handleSearchOffsetByTimestamp(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	topic, qid, ts := h.str("topic", true), h.i32("queueId", true), h.i64("timestamp", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	return respond(req, remoting.Success, "", map[string]string{"offset": i64s(b.store.OffsetByTime(topic, qid, ts))}, nil)
}

func (b *Broker) handleEarliestMsgStoreTime(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	topic, qid := h.str("topic", true), h.i32("queueId", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	return respond(req, remoting.Success, "", map[string]string{"timestamp": i64s(b.store.EarliestMsgStoreTime(topic, qid))}, nil)
}
