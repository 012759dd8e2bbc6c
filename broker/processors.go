package broker

import (
	"strings"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/broker/processor"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// newProcessors builds the request processors (send, pull, client management, queue offsets,
// transactions, the delay schedule) and the store writer on the broker's store, metadata tables,
// HA master, client manager, queue-lock table and long-poll service (package processor declares
// the small interfaces they need).
func (b *Broker) newProcessors() {
	b.writer = &processor.Writer{
		Store:  b.store,
		Config: b.procConfig,
		OnPut:  b.stats.recordPut,
		// Controller mode answers send-backs and transaction commits only once the
		// SyncStateSet has them.
		FenceInternal: func() bool { return b.fo != nil },
		Replicator: func() processor.Replicator {
			if b.haMaster == nil && b.fo == nil {
				return nil
			}
			return brokerReplicator{b}
		},
	}
	b.sendProc = &processor.Send{
		Config: b.procConfig, Topics: b.topics, Groups: b.groups, Writer: b.writer, StoreHost: b.storeHost,
		Log: b.log, Register: b.triggerRegister, Meter: b.sendMeter, Produced: b.produced.record,
	}
	// Controller mode's lease fence (b.fo is set when the broker starts in controller mode).
	b.sendProc.CheckSend = func(req *remoting.Command) *remoting.Command {
		if b.fo != nil {
			return b.fo.checkSend(req)
		}
		return nil
	}
	writable := func() bool { return b.fo == nil || b.fo.writable() } // controller mode: the master of its set
	b.sendBackProc = &processor.SendBack{Send: b.sendProc, Store: b.store, Writable: writable}
	b.clientProc = &processor.ClientManage{
		Clients: b.clients, Locks: b.locks, Groups: b.groups, Topics: b.topics, Config: b.procConfig,
		Now: func() time.Time { return b.now() }, Log: b.log, Register: b.triggerRegister, NotifyIDsChanged: b.notifyIDsChanged,
	}
	b.offsetProc = &processor.QueueOffsets{Store: b.store, Offsets: b.offsets, Config: b.procConfig, MemoryBehindLimit: b.memoryBehindLimit}
	b.adminProc = &processor.Admin{
		Store: b.store, Topics: b.topics, Groups: b.groups, Offsets: b.offsets, DelayOffsets: b.delayOffsets,
		Config: b.procConfig, Log: b.log, FromMaster: b.fromMaster, Register: b.triggerRegister,
		ConsumerConns: b.clients.consumerConns,
	}
	b.txProc = &processor.Transactions{
		Store: b.store, Writer: b.writer, Topics: b.topics, Producers: brokerProducers{b.clients},
		StoreHost: b.storeHost, Config: b.procConfig, Now: func() time.Time { return b.now() }, Log: b.log,
		Writable: writable,
	}
	b.schedProc = &processor.Schedule{
		Store: b.store, Writer: b.writer, Offsets: b.delayOffsets, Levels: b.delayLevels,
		StoreHost: b.storeHost, Log: b.log,
	}
	b.pullProc = &processor.Pull{
		Config: b.procConfig, Store: b.store, Topics: b.topics, Groups: b.groups, Offsets: b.offsets,
		Subscriptions: clientSubscriptions{b.clients}, Holder: holdAdapter{b}, Log: b.log,
		SlaveDiverged: func() bool { return b.haSlave != nil && b.haSlave.Diverged() },
		OnGet:         b.stats.recordGet, Observe: b.recordPull,
	}
}

// sendInline reports, on the remoting event loop, whether a send may run right there instead of
// on the send pool (sendMessageInline, default true): only when nothing in it can wait. Every
// send uses the pool while the store refuses writes (disk full, a flush error: the pool's bounded
// queue then answers a flood with SYSTEM_BUSY), and so does a send to a topic that does not exist
// yet (its creation writes the topic file) or to a retry topic (it may create its group or the
// DLQ topic), and every send in controller mode (not evaluated inline). What is left is CPU work
// and short locks: the header decode, the ACL check, the append to the mapped commit log
// (pre-faulted ahead by the warm loop) and, under SYNC_FLUSH or on a SYNC_MASTER, registering the
// answer for the msync or the slave's ack (Conn.Defer; nothing waits on the loop).
func (b *Broker) sendInline(_ *server.Conn, req *remoting.Command) bool {
	c := b.conf()
	if !c.SendMessageInline || b.fo != nil || b.store.Err() != nil {
		return false
	}
	topic, ok := req.Ext("b") // SEND_MESSAGE_V2 and batches
	if !ok {
		topic = req.ExtValue("topic")
	}
	if strings.HasPrefix(topic, metadata.RetryGroupPrefix) {
		return false
	}
	_, exists := b.topics.Get(topic)
	return exists
}

// procSnapshot is the processors' configuration for one *Config (the configuration is replaced
// as a whole, copy on write, so the pointer identifies it).
type procSnapshot struct {
	cfg  *Config
	snap processor.Config
}

// procConfig is the processors' snapshot of the current configuration, built once per
// configuration (building it per request cost a formatted broker address each).
func (b *Broker) procConfig() processor.Config {
	c := b.conf()
	if s := b.procSnap.Load(); s != nil && s.cfg == c {
		return s.snap
	}
	snap := b.buildProcConfig(c)
	b.procSnap.Store(&procSnapshot{cfg: c, snap: snap})
	return snap
}

func (b *Broker) buildProcConfig(c *Config) processor.Config {
	return processor.Config{
		IsMaster: c.IsMaster(), BrokerPermission: int32(c.BrokerPermission), BrokerAddr: c.BrokerAddr(),
		BrokerClusterName: c.BrokerClusterName, BrokerName: c.BrokerName, DefaultQueryMaxNum: c.DefaultQueryMaxNum, RegionID: c.RegionID, TraceOn: c.TraceOn,
		RejectTransactionMessage: c.RejectTransactionMessage, AutoCreateSubscriptionGroup: c.AutoCreateSubscriptionGroup,
		MaxMessageSize: c.MaxMessageSize, SlaveReadEnable: c.SlaveReadEnable, LongPollingEnable: c.LongPollingEnable,
		ShortPollingTimeMills: int64(c.ShortPollingTimeMills), AccessMessageInMemoryMaxRatio: c.AccessMessageInMemoryMaxRatio,
		DelayLevels: len(b.delayLevels), TotalMemory: totalMemory(),
		TransactionTimeOut: ms(c.TransactionTimeOut), TransactionCheckMax: c.TransactionCheckMax,
	}
}

// processPull runs the pull processor (the hold service re-runs held pulls through it).
func (b *Broker) processPull(c *server.Conn, req *remoting.Command, allowSuspend bool) *remoting.Command {
	return b.pullProc.Process(c, req, allowSuspend)
}

// brokerReplicator is the HA master as the writer's Replicator (a DeferringReplicator: a
// SYNC_MASTER send registers its wait for the slave's ack with the HA master, no goroutine waits).
type brokerReplicator struct{ b *Broker }

func (r brokerReplicator) Replicate(res commitlog.PutResult, wait bool) processor.ReplicaStatus {
	return r.b.replicate(res, wait)
}

func (r brokerReplicator) ReplicateThen(res commitlog.PutResult, wait bool, done func(processor.ReplicaStatus)) (processor.ReplicaStatus, bool) {
	return r.b.replicateThen(res, wait, done)
}

// Defers: a SYNC_MASTER or a controller-mode broker may wait for acks.
func (r brokerReplicator) Defers() bool {
	return r.b.fo != nil || (r.b.haMaster != nil && r.b.conf().BrokerRole == RoleSyncMaster)
}

// clientSubscriptions is the client manager as the pull processor's Subscriptions.
type clientSubscriptions struct{ m *clientManager }

func (s clientSubscriptions) Subscription(group, topic string) (processor.Filter, int64, string, bool) {
	sub, model, ok := s.m.subscriptionOf(group, topic)
	if !ok {
		return nil, 0, "", false
	}
	return sub, sub.data.SubVersion, model, true
}

func (s clientSubscriptions) Parse(topic, expr, exprType string) processor.Filter {
	return newSubscription(SubscriptionData{Topic: topic, SubString: expr, ExpressionType: exprType, TagsSet: parseTagExpression(expr)})
}

// holdAdapter is the long-poll service as the pull processor's Holder.
type holdAdapter struct{ b *Broker }

func (h holdAdapter) Suspend(c *server.Conn, req *remoting.Command, topic string, queueID int32, offset int64, f processor.Filter, timeoutMs int64) bool {
	return h.b.hold.suspend(c, req, topic, queueID, offset, f.(*subscription), timeoutMs)
}

// memoryBehindLimit is how far behind the commit-log end data may lie before a consumer counts as
// reading from disk (accessMessageInMemoryMaxRatio, 40 % of RAM by default).
func (b *Broker) memoryBehindLimit() int64 {
	return totalMemory() * int64(b.conf().AccessMessageInMemoryMaxRatio) / 100
}
