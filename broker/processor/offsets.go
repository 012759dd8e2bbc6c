package processor

import (
	"context"
	"strconv"

	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// OffsetStore is what the queue-offset processor reads of the commit log.
type OffsetStore interface {
	GetMessage(topic string, queueID int32, offset int64, maxMsgNums int, match func(tagsCode int64) bool) commitlog.GetResult
	MaxOffsetInQueue(topic string, queueID int32) int64
	MinOffsetInQueue(topic string, queueID int32) int64
	OffsetByTime(topic string, queueID int32, ts int64) int64
	EarliestMsgStoreTime(topic string, queueID int32) int64
}

// OffsetTable is the consumer-offset table (*metadata.Offsets implements it).
type OffsetTable interface {
	// Query returns the committed offset, or -1 when the group has none for the queue.
	Query(group, topic string, queueID int32) int64
	Commit(group, topic string, queueID int32, offset int64)
}

// QueueOffsets serves the offset requests (RocketMQ's ConsumerManageProcessor offset part and
// AdminBrokerProcessor queue queries): QUERY_CONSUMER_OFFSET, UPDATE_CONSUMER_OFFSET,
// GET_MAX_OFFSET, GET_MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP and GET_EARLIEST_MSG_STORETIME.
// Register its handlers with server.HandleRaw.
type QueueOffsets struct {
	Store   OffsetStore
	Offsets OffsetTable
	Config  func() Config
	// MemoryBehindLimit is how far behind the commit-log end data may lie before a consumer counts
	// as reading from disk (accessMessageInMemoryMaxRatio of RAM).
	MemoryBehindLimit func() int64
}

// queueFields reads the topic and queueId every offset request carries.
func queueFields(req *remoting.Command) (*protocol.Fields, string, int32) {
	f := protocol.ReadFields(req.RawExt())
	return f, f.Str("topic", true), f.I32("queueId", true)
}

// offsetResponse answers SUCCESS with one numeric field.
func offsetResponse(req *remoting.Command, key string, v int64) *remoting.Command {
	resp := remoting.NewResponseList(req, remoting.Success, "")
	return resp.SetRawExt([]protocol.ExtField{{Key: key, Value: strconv.FormatInt(v, 10)}})
}

// QueryConsumerOffset answers QUERY_CONSUMER_OFFSET (§2.6): the stored offset, or 0 for a new group
// on an empty queue or one whose first message is still in memory, else QUERY_NOT_FOUND so the
// client applies its consume-from-where.
func (p *QueueOffsets) QueryConsumerOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f, topic, qid := queueFields(req)
	group := f.Str("consumerGroup", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if off := p.Offsets.Query(group, topic, qid); off >= 0 {
		return offsetResponse(req, "offset", off)
	}
	if minOff := p.Store.MinOffsetInQueue(topic, qid); minOff <= 0 && !p.entryOnDisk(topic, qid, 0) {
		return offsetResponse(req, "offset", 0)
	}
	return errResp(req, remoting.QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
}

// entryOnDisk reports whether the message at a queue offset lies further behind the commit-log end
// than the in-memory window (an empty queue has no such entry).
func (p *QueueOffsets) entryOnDisk(topic string, qid int32, offset int64) bool {
	if p.Store.MaxOffsetInQueue(topic, qid) <= offset {
		return false
	}
	res := p.Store.GetMessage(topic, qid, offset, 1, nil)
	if len(res.Messages) == 0 {
		return false
	}
	return res.MaxPhyOffset-res.LastPhyOffset > p.MemoryBehindLimit()
}

// UpdateConsumerOffset serves UPDATE_CONSUMER_OFFSET; only a master takes commits.
func (p *QueueOffsets) UpdateConsumerOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f, topic, qid := queueFields(req)
	group, off := f.Str("consumerGroup", true), f.I64("commitOffset", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if cfg := p.Config(); !cfg.IsMaster {
		return errResp(req, remoting.SystemError, "the broker[%s] is a slave; commit offsets to the master", cfg.BrokerAddr)
	}
	p.Offsets.Commit(group, topic, qid, off)
	return remoting.NewResponseList(req, remoting.Success, "")
}

// queueQuery serves a request that reads one number of a queue.
func (p *QueueOffsets) queueQuery(req *remoting.Command, key string, read func(f *protocol.Fields, topic string, qid int32) int64) *remoting.Command {
	f, topic, qid := queueFields(req)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	v := read(f, topic, qid) // reads its own fields before the store, so Err covers them
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	return offsetResponse(req, key, v)
}

// GetMaxOffset serves GET_MAX_OFFSET: the queue's next offset.
func (p *QueueOffsets) GetMaxOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return p.queueQuery(req, "offset", func(_ *protocol.Fields, topic string, qid int32) int64 { return p.Store.MaxOffsetInQueue(topic, qid) })
}

// GetMinOffset serves GET_MIN_OFFSET: the queue's first retained offset.
func (p *QueueOffsets) GetMinOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return p.queueQuery(req, "offset", func(_ *protocol.Fields, topic string, qid int32) int64 { return p.Store.MinOffsetInQueue(topic, qid) })
}

// SearchOffsetByTimestamp serves SEARCH_OFFSET_BY_TIMESTAMP.
func (p *QueueOffsets) SearchOffsetByTimestamp(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return p.queueQuery(req, "offset", func(f *protocol.Fields, topic string, qid int32) int64 {
		ts := f.I64("timestamp", true)
		if f.Err() != nil {
			return 0
		}
		return p.Store.OffsetByTime(topic, qid, ts)
	})
}

// EarliestMsgStoreTime serves GET_EARLIEST_MSG_STORETIME.
func (p *QueueOffsets) EarliestMsgStoreTime(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return p.queueQuery(req, "timestamp", func(_ *protocol.Fields, topic string, qid int32) int64 {
		return p.Store.EarliestMsgStoreTime(topic, qid)
	})
}
