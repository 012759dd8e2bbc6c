package processor

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// sendHeader is the typed send header (long or one-letter names, §2.4).
type sendHeader = protocol.SendMessageRequestHeader

// Send is the send processor: SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE (§2.4).
type Send struct {
	Config    func() Config
	Topics    Topics
	Groups    Groups
	Writer    *Writer
	StoreHost netip.AddrPort // brokerIP1:listenPort, the store host of every message
	Log       *slog.Logger
	// Register asks for a registration with the name servers (a topic was created).
	Register func()
	// CheckSend refuses a send before anything is stored (controller mode: the lease fence); nil
	// lets every send through.
	CheckSend func(req *remoting.Command) *remoting.Command
	// Meter returns the recorder of the sends stored in topic. It is asked once per connection,
	// producer group and topic (together with Produced), and kept in the connection's memo
	// (sendMemo), so that a send on a connection that sent there before records itself with no
	// lookup; may be nil (then sends are not metered).
	Meter func(topic string) SendMeter
	// Produced records that connection c stored messages in topic as producer group (group and
	// topic alias the request frame: copy to keep); may be nil. With Meter set it is called only
	// for a pair the connection's memo does not hold yet.
	Produced func(c *server.Conn, group, topic string)
}

// Handle serves one send. Register it with server.HandleRaw: the header is read from the raw
// extFields list, no map is built. A single message on a connection allocates nothing here: its
// sendOp (the header, the message, the write and the answer) comes from a pool, and Handle writes
// the answer itself (Conn.WriteResponse encodes it at once) so that the op goes back to the pool
// before Handle returns nil; a deferred answer puts it back once Deferred.Answer encoded it. A
// batch allocates per message. Without a connection (c nil: tests, internal callers) the op is
// allocated and the answer returned.
//
// A send that runs inline on the event loop gets a lent request (Command.Borrowed: its header
// strings and body alias the connection's read buffer until Handle returns). Nothing of it is
// kept past the return: the store copies the message into the commit log and gets the topic
// name the topic table owns (its queue-offset table keys on it), statistics and the producer
// table clone what they keep, and the answer is encoded before the buffer moves on. Only a
// deferred answer (SYNC_FLUSH, SYNC_MASTER) reads the send later. A plain single message (its
// properties gain nothing but CLUSTER) is detached then (storeDeferred): the answer needs only
// the request's code, opaque, flag, serialization and body length, the topic (the topic table's
// string) and the producer group (copied into the op). Any other deferred send (a batch, a half
// or a delayed message, whose answer or rewrite reads more of it) owns a copy of the request
// (req.Own()) and decodes its header again from that copy.
func (p *Send) Handle(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	var start time.Time
	if c != nil && req.Borrowed() { // inline: the loop read the clock once for its turn
		start = c.TurnStart()
	}
	if start.IsZero() {
		start = time.Now()
	}
	defers := c != nil && p.Writer.Defers() // decided once: a lent request is detached or owned only on this path
	op := newSendOp(c != nil)
	var err error
	op.sh, err = protocol.DecodeSendMessageRequestHeader(req.Code, req.RawExt())
	if err == nil && defers && req.Borrowed() && (op.sh.Batch || !clusterOnly(op.sh.Properties)) {
		req = req.Own()
		op.sh, err = protocol.DecodeSendMessageRequestHeader(req.Code, req.RawExt())
	}
	if err != nil {
		return p.finish(c, req, op, errResp(req, remoting.SystemError, "%v", err))
	}
	op.bodyLen = len(req.Body)
	cfg := p.Config()
	resp, ps := p.send(c, req, op, cfg)
	if ps == nil {
		return p.finish(c, req, op, resp)
	}
	if defers {
		return p.storeDeferred(c, req, op, ps, cfg, start)
	}
	return p.finish(c, req, op, p.answer(c, req, op, ps, cfg, start, p.Writer.write(ps.kind, &op.props, &cfg, ps.msgs)))
}

// sendOp is one send's state: the decoded header, the message of a single send and its
// one-element list, the write, and the SEND_OK answer with its header fields and the bytes of
// their values (msgId, queueId, queueOffset alias text), and the buffer of the message's
// property string once the Writer appended CLUSTER to it (msg.PropertiesText aliases props). It
// lives until the answer is encoded;
// the store keeps no reference to it (records are copied into the commit log). A pooled op goes
// back to sendOps then (finish, or the deferred answer in storeDeferred) and not before: the
// next send reuses every byte of it.
type sendOp struct {
	sh      sendHeader
	msg     message.Message
	one     [1]*message.Message
	ps      pendingSend
	resp    remoting.Command
	ext     [6]protocol.ExtField
	text    [96]byte
	props   []byte           // the rewritten property string (CLUSTER appended; Writer.rewrite), kept across reuse
	group   []byte           // a detached deferred send's producer group (sh.ProducerGroup aliases it), kept across reuse
	req     remoting.Command // a detached deferred send's request: code, opaque, flag, serialization
	bodyLen int
	pooled  bool

	// A deferred send's answer (storeDeferred): the promise, the join of its flush and replica
	// waits, and what the answer reads once they are over. j's callbacks (op.reply its answer)
	// are bound once per pooled op and kept across reuse, so a deferred send allocates none.
	d     server.Deferred
	j     joinedWrite
	send  *Send
	conn  *server.Conn
	dreq  *remoting.Command // the request the answer reads: &op.req (detached) or an owned copy
	dps   *pendingSend
	cfg   Config
	start time.Time
}

var sendOps sync.Pool

func init() {
	// Set here: New refers to reply, which puts ops back into sendOps.
	sendOps.New = func() any {
		op := new(sendOp)
		op.j.bind(op.reply) // method values: allocated once per pooled op
		return op
	}
}

// newSendOp returns a zero op, from the pool when pooled.
func newSendOp(pooled bool) *sendOp {
	if !pooled {
		return new(sendOp)
	}
	op := sendOps.Get().(*sendOp)
	op.reset()
	op.pooled = true
	return op
}

// reset zeroes the op, keeping its buffers (unless they grew large) and bound callbacks.
func (op *sendOp) reset() {
	props, group := op.props[:0], op.group[:0]
	cb := op.j.joinCallbacks
	*op = sendOp{}
	op.j.joinCallbacks = cb
	if cap(props) <= maxPooledProps {
		op.props = props
	}
	if cap(group) <= maxPooledProps {
		op.group = group
	}
}

// release puts a pooled op back. It is zeroed when it is taken again (newSendOp), on the
// goroutine that fills it: a deferred send is released on the store's answering goroutine,
// usually on the other core, and zeroing its ~1.7 KB there made the event loop fetch every
// line of it back on reuse. Until then a plain single send's op keeps the small things it
// referenced (its request's header strings and body, the connection); an op that held a batch,
// an owned copy of its request or a large body is zeroed at once, so that nothing large stays
// reachable from the pool.
func (op *sendOp) release() {
	if op.pooled {
		if (op.dreq != nil && op.dreq != &op.req) || (op.dps != nil && op.dps != &op.ps) || op.bodyLen > maxLazyBody {
			op.reset()
		}
		sendOps.Put(op)
	}
}

// maxLazyBody is the largest body whose send's op may keep referencing it in the pool.
const maxLazyBody = 16 << 10

// maxPooledProps is the largest property buffer a pooled sendOp keeps.
const maxPooledProps = 4 << 10

// finish ends a send answered now. An op without a connection returns resp to the server. A
// pooled one (on a connection) writes resp itself, as the server would (opaque, response flag
// and serialization from the request; nothing for a oneway request), so that resp, which may
// live inside op, is encoded before op goes back to the pool; it returns nil.
func (p *Send) finish(c *server.Conn, req *remoting.Command, op *sendOp, resp *remoting.Command) *remoting.Command {
	if !op.pooled {
		return resp
	}
	if resp != nil && !req.IsOneway() {
		resp.Opaque = req.Opaque
		resp.MarkResponse()
		resp.SerializeType = req.SerializeType
		if err := c.WriteResponse(resp); err != nil {
			p.Log.Debug("response dropped", "addr", c.RemoteAddr(), "code", req.Code, "opaque", req.Opaque, "err", err)
		}
	}
	op.release()
	return nil
}

// pendingSend is a checked send's write: its messages, ready for the Writer.
type pendingSend struct {
	kind    WriteKind
	msgs    []*message.Message
	queueID int32
}

// storeDeferred writes a send's messages under SYNC_FLUSH or SYNC_MASTER on a connection
// (Writer.Defers when Handle began) and defers the answer (Conn.Defer): the store's (or the HA
// master's) answering goroutine writes it after the msync (and the slave's ack) covering the
// messages, so no worker waits for the disk and one msync answers every send in flight; the
// server's Drain waits for such answers. The op goes back to the pool only after Deferred.Answer
// encoded its answer. The op holds the promise (Conn.DeferInto), the join of the waits and what
// the answer reads, and its callbacks are bound once per pooled op: a deferred send allocates
// nothing here either.
func (p *Send) storeDeferred(c *server.Conn, req *remoting.Command, op *sendOp, ps *pendingSend, cfg Config, start time.Time) *remoting.Command {
	if req.Borrowed() { // a plain single message (Handle): keep what the answer reads, drop the rest
		op.req = remoting.Command{Code: req.Code, Opaque: req.Opaque, Flag: req.Flag, SerializeType: req.SerializeType}
		req = &op.req
		op.group = append(op.group[:0], op.sh.ProducerGroup...)
		op.sh = sendHeader{Topic: op.sh.Topic, ProducerGroup: protocol.AliasString(op.group)}
	}
	op.send, op.conn, op.dreq, op.dps, op.cfg, op.start = p, c, req, ps, cfg, start
	if op.j.done == nil { // an op not from the pool
		op.j.bind(op.reply)
	}
	c.DeferInto(&op.d, req)
	settled := false
	defer func() {
		if !settled { // a panic below: the server answers SYSTEM_ERROR, the promise must not stay owed
			op.d.Answer(nil)
		}
	}()
	w, deferred := p.Writer.writeJoined(ps.kind, &op.props, &cfg, &op.j, ps.msgs)
	settled = true
	if !deferred {
		op.reply(w)
	}
	return nil
}

// reply answers a deferred send once its write is over (on the store's or the HA master's
// answering goroutine, or in storeDeferred when nothing was deferred) and puts the op back.
func (op *sendOp) reply(w WriteResult) {
	op.d.Answer(op.send.answer(op.conn, op.dreq, op, op.dps, op.cfg, op.start, w))
	op.release()
}

// answer builds the response to a finished write and records the stored messages.
func (p *Send) answer(c *server.Conn, req *remoting.Command, op *sendOp, ps *pendingSend, cfg Config, start time.Time, w WriteResult) *remoting.Command {
	resp := p.sendResponse(req, w, ps.queueID, cfg, op, ps.msgs...)
	p.record(c, op, w, start)
	return resp
}

// record records the messages a finished write stored (statistics, the producer table).
func (p *Send) record(c *server.Conn, op *sendOp, w WriteResult, start time.Time) {
	n := w.Stored()
	if n <= 0 {
		return
	}
	if p.Meter != nil {
		p.meterOf(c, op.sh.ProducerGroup, op.sh.Topic).RecordSend(n, op.bodyLen, start)
		return
	}
	if p.Produced != nil {
		p.Produced(c, op.sh.ProducerGroup, op.sh.Topic)
	}
}

// sendMemo is a connection's memo (server.Conn.Memo) of the (producer group, topic) pairs its
// sends were recorded under, with each topic's meter: a pair found here was handed to Produced
// already and needs no lookup. It is replaced as a whole when a pair is added (copy on write:
// sends of one connection may run on several workers) and holds at most maxMemoPairs pairs;
// the sends of a pair beyond those take the lookups every time, as without a memo.
type sendMemo struct {
	n     int
	pairs [maxMemoPairs]memoPair
}

type memoPair struct {
	group, topic string
	meter        SendMeter
}

const maxMemoPairs = 8

// meterOf returns topic's meter for a send of group on c, from c's memo when the pair is in it;
// otherwise it asks Meter, records the pair with Produced and adds it to the memo.
func (p *Send) meterOf(c *server.Conn, group, topic string) SendMeter {
	var memo *sendMemo
	if c != nil {
		memo, _ = c.Memo().Load().(*sendMemo)
		if memo != nil {
			for i := range memo.n {
				if e := &memo.pairs[i]; e.topic == topic && e.group == group {
					return e.meter
				}
			}
		}
	}
	m := p.Meter(topic)
	if p.Produced != nil {
		p.Produced(c, group, topic)
	}
	if c != nil && (memo == nil || memo.n < maxMemoPairs) {
		next := new(sendMemo)
		if memo != nil {
			*next = *memo
		}
		// group and topic may alias the request frame (a lent request).
		next.pairs[next.n] = memoPair{group: strings.Clone(group), topic: strings.Clone(topic), meter: m}
		next.n++
		c.Memo().Store(next)
	}
	return m
}

// send checks a send and builds its messages: either an answer (refused) or the write to do.
func (p *Send) send(c *server.Conn, req *remoting.Command, op *sendOp, cfg Config) (*remoting.Command, *pendingSend) {
	sh := &op.sh
	if !cfg.IsMaster {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is a slave and does not accept messages", cfg.BrokerAddr), nil
	}
	if p.CheckSend != nil {
		if resp := p.CheckSend(req); resp != nil {
			return resp, nil
		}
	}
	if cfg.BrokerPermission&metadata.PermWrite == 0 {
		return errResp(req, remoting.NoPermission, "the broker[%s] sending message is forbidden", cfg.BrokerAddr), nil
	}
	if err := metadata.ValidateTopic(sh.Topic); err != nil {
		if len(sh.Topic) > 127 {
			return errResp(req, remoting.MessageIllegal, "%v", err), nil
		}
		return errResp(req, remoting.SystemError, "%v", err), nil
	}
	if metadata.IsSystemTopic(sh.Topic) {
		return errResp(req, remoting.NoPermission, "the topic[%s] is a system topic, sending is forbidden", sh.Topic), nil
	}
	tc, resp := p.topicForSend(req, sh)
	if resp != nil {
		return resp, nil
	}
	if !tc.Writeable() {
		return errResp(req, remoting.NoPermission, "the topic[%s] sending message is forbidden", sh.Topic), nil
	}
	queueID := sh.QueueID
	if queueID < 0 {
		queueID = rand.Int32N(max(tc.WriteQueueNums, 1))
	}
	if queueID >= tc.QueueNums() {
		return errResp(req, remoting.SystemError, "request queueId[%d] is illegal, topic %s has %d queues, producer %s",
			queueID, sh.Topic, tc.QueueNums(), remoteOf(c)), nil
	}
	// From here on the messages name the topic by tc.TopicName, equal to sh.Topic and owned by
	// the topic table: the store keys its queue offsets on the message's topic, and sh.Topic may
	// alias a lent request (Handle).
	if tc.TopicName != sh.Topic {
		tc.TopicName = strings.Clone(sh.Topic)
	}
	sh.Topic = tc.TopicName
	born := bornHost(c)
	if sh.Batch {
		return p.sendBatch(req, sh, tc, queueID, born, cfg)
	}
	// The producer's property string is stored as it came (plus CLUSTER, added by Rewrite): no
	// map unless the message must be rewritten (a half or a delayed message).
	m := &op.msg
	*m = message.Message{
		Topic: tc.TopicName, QueueID: queueID, Flag: sh.Flag, SysFlag: sh.SysFlag,
		BornTimestamp: sh.BornTimestamp, BornHost: born, StoreHost: p.StoreHost,
		ReconsumeTimes: sh.ReconsumeTimes, Body: req.Body, PropertiesText: sh.Properties,
	}
	if strings.HasPrefix(sh.Topic, metadata.RetryGroupPrefix) {
		if r := p.redirectRetryToDLQ(req, sh, m, cfg); r != nil {
			return r, nil
		}
	}
	if tc.TopicFilterType == "MULTI_TAG" {
		m.SysFlag |= message.FlagMultiTags
	}
	if cfg.RejectTransactionMessage && m.Property(message.PropertyTransactionPrepared) == "true" {
		return errResp(req, remoting.NoPermission, "the broker[%s] sending transaction message is forbidden", cfg.BrokerAddr), nil
	}
	op.one[0] = m
	op.ps = pendingSend{kind: WriteSend, msgs: op.one[:], queueID: queueID}
	return nil, &op.ps
}

// topicForSend finds the topic, creating it from the default topic (TBW102) when the producer is
// allowed to (§2.4 step 3).
func (p *Send) topicForSend(req *remoting.Command, sh *sendHeader) (metadata.TopicConfig, *remoting.Command) {
	if tc, ok := p.Topics.Get(sh.Topic); ok {
		return tc, nil
	}
	var created metadata.TopicConfig
	if def, ok := p.Topics.Get(sh.DefaultTopic); ok && def.Perm&metadata.PermInherit != 0 {
		n := min(max(sh.DefaultTopicQueueNums, 1), def.WriteQueueNums)
		created = metadata.TopicConfig{TopicName: sh.Topic, ReadQueueNums: n, WriteQueueNums: n,
			Perm: def.Perm &^ metadata.PermInherit, TopicFilterType: def.TopicFilterType}
	} else if strings.HasPrefix(sh.Topic, metadata.RetryGroupPrefix) {
		created = metadata.TopicConfig{TopicName: sh.Topic, ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}
	} else {
		return metadata.TopicConfig{}, errResp(req, remoting.TopicNotExist, "topic[%s] not exist, apply first please!", sh.Topic)
	}
	// The topic name aliases the request frame; the topic table keeps its own copy.
	created.TopicName = strings.Clone(created.TopicName)
	tc, isNew, err := p.Topics.PutIfAbsent(created)
	if err != nil {
		p.Log.Error("create topic failed", "topic", sh.Topic, "err", err)
		return tc, errResp(req, remoting.SystemError, "create topic %s: %v", sh.Topic, err)
	}
	if isNew {
		p.Log.Info("topic auto-created", "topic", sh.Topic, "queues", tc.WriteQueueNums, "producerGroup", sh.ProducerGroup)
		p.Register()
	}
	return tc, nil
}

// redirectRetryToDLQ moves a retried message to %DLQ%<group> once it was reconsumed too often.
func (p *Send) redirectRetryToDLQ(req *remoting.Command, sh *sendHeader, m *message.Message, cfg Config) *remoting.Command {
	group := strings.TrimPrefix(sh.Topic, metadata.RetryGroupPrefix)
	gc, ok, err := p.Groups.GetOrCreate(strings.Clone(group), cfg.AutoCreateSubscriptionGroup)
	if err != nil || !ok {
		return errResp(req, remoting.SubscriptionGroupNotExist, "subscription group not exist, %s", group)
	}
	maxTimes := gc.RetryMaxTimes
	if sh.HasMaxReconsumeTimes {
		maxTimes = sh.MaxReconsumeTimes
	}
	if m.ReconsumeTimes >= maxTimes {
		dlq, err := p.ensureDLQTopic(group)
		if err != nil {
			return errResp(req, remoting.SystemError, "create DLQ topic for %s: %v", group, err)
		}
		m.Topic, m.QueueID = dlq, 0
	}
	return nil
}

func (p *Send) ensureDLQTopic(group string) (string, error) {
	topic := metadata.DLQGroupPrefix + group
	_, isNew, err := p.Topics.PutIfAbsent(metadata.TopicConfig{TopicName: topic, ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6})
	if isNew {
		p.Register()
	}
	return topic, err
}

func (p *Send) sendBatch(req *remoting.Command, sh *sendHeader, tc metadata.TopicConfig, queueID int32, born netip.AddrPort, cfg Config) (*remoting.Command, *pendingSend) {
	if sh.SysFlag&message.TransactionMask != 0 {
		return errResp(req, remoting.MessageIllegal, "batch request does not support transaction messages"), nil
	}
	wrapper := message.ParseProperties(sh.Properties)
	if wrapper[message.PropertyDelayLevel] != "" && wrapper[message.PropertyDelayLevel] != "0" {
		return errResp(req, remoting.MessageIllegal, "batch request does not support delay messages"), nil
	}
	if len(req.Body) > cfg.MaxMessageSize {
		return errResp(req, remoting.MessageIllegal, "batch body of %d bytes exceeds maxMessageSize %d", len(req.Body), cfg.MaxMessageSize), nil
	}
	entries, err := message.DecodeBatch(req.Body)
	if err != nil {
		return errResp(req, remoting.MessageIllegal, "bad batch body: %v", err), nil
	}
	if len(entries) == 0 {
		return errResp(req, remoting.MessageIllegal, "empty batch"), nil
	}
	msgs := make([]*message.Message, len(entries))
	for i, e := range entries {
		props := e.Properties
		if props == nil {
			props = map[string]string{}
		}
		for k, v := range wrapper {
			props[k] = v
		}
		props[message.PropertyCluster] = cfg.BrokerClusterName
		delete(props, message.PropertyWait)
		m := &message.Message{
			Topic: tc.TopicName, QueueID: queueID, Flag: e.Flag, SysFlag: sh.SysFlag,
			BornTimestamp: sh.BornTimestamp, BornHost: born, StoreHost: p.StoreHost,
			ReconsumeTimes: sh.ReconsumeTimes, Body: e.Body, Properties: props,
		}
		if tc.TopicFilterType == "MULTI_TAG" {
			m.SysFlag |= message.FlagMultiTags
		}
		msgs[i] = m
	}
	return nil, &pendingSend{kind: WriteBatch, msgs: msgs, queueID: queueID}
}

// sendResponse maps a store write to the SEND_MESSAGE response (§2.4). The SEND_OK answer of
// a single message is built inside op (no allocation); a batch's is allocated.
func (p *Send) sendResponse(req *remoting.Command, w WriteResult, queueID int32, cfg Config, op *sendOp, msgs ...*message.Message) *remoting.Command {
	if w.Replica == ReplicaNotEnough {
		return errResp(req, remoting.SystemError, "in-sync replicas not enough")
	}
	code := w.Code()
	if !w.OK() {
		if w.Err != nil {
			p.Log.Warn("put message failed", "status", PutStatusName(w.Status), "err", w.Err)
			return errResp(req, code, "%s: %v", PutStatusName(w.Status), w.Err)
		}
		return errResp(req, code, "%s", PutStatusName(w.Status))
	}
	if w.Replica != ReplicaOK {
		p.Log.Debug("send not replicated in time", "code", code, "endOffset", w.EndOffset)
	}
	rh := protocol.SendMessageResponseHeader{QueueID: queueID, QueueOffset: w.QueueOffset,
		MsgRegion: cfg.RegionID, TraceOn: strconv.FormatBool(cfg.TraceOn)}
	if len(msgs) == 1 {
		if msgs[0].Topic == metadata.TopicTransHalf { // only a half message reads its UNIQ_KEY
			rh.TransactionID = msgs[0].Property(message.PropertyUniqKey)
		}
		if op != nil {
			// msgId, queueId and queueOffset are formatted into op.text, which is written once.
			t := message.AppendOffsetMsgID(op.text[:0], p.StoreHost, msgs[0].CommitLogOffset)
			idEnd := len(t)
			t = strconv.AppendInt(t, int64(queueID), 10)
			qEnd := len(t)
			t = strconv.AppendInt(t, w.QueueOffset, 10)
			text := protocol.AliasString(t)
			rh.MsgID = text[:idEnd]
			op.resp = remoting.ResponseListOf(req, code, "")
			return op.resp.SetRawExt(rh.AppendFormatted(op.ext[:0], text[idEnd:qEnd], text[qEnd:]))
		}
		rh.MsgID = message.OffsetMsgID(p.StoreHost, msgs[0].CommitLogOffset)
	} else {
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = message.OffsetMsgID(p.StoreHost, m.CommitLogOffset)
		}
		rh.MsgID = strings.Join(ids, ",")
	}
	resp := remoting.NewResponseList(req, code, "")
	return resp.SetRawExt(rh.Append(make([]protocol.ExtField, 0, 6)))
}

// errResp builds an error response with a formatted remark.
func errResp(req *remoting.Command, code int32, format string, args ...any) *remoting.Command {
	return remoting.NewResponse(req, code, fmt.Sprintf(format, args...))
}

// bornHost is the client's address as seen by the broker.
func bornHost(c *server.Conn) netip.AddrPort {
	if c == nil || !c.RemoteAddrPort().IsValid() {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return c.RemoteAddrPort()
}

// remoteOf is the client's address for error remarks ("" for a request without a connection).
func remoteOf(c *server.Conn) string {
	if c == nil {
		return ""
	}
	return c.RemoteAddr()
}
