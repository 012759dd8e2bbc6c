package broker

import (
	"context"
	"encoding/json"
	"time"

	"github.com/skiffmq/skiff/broker/ha"
	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/broker/processor"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/remoting"
)

// replicate applies the SYNC_MASTER rule to a stored message (§5.4): wake the HA writers and, on a
// SYNC_MASTER, wait until a slave acknowledged res.EndOffset. The result's status becomes
// SlaveNotAvailable when no healthy slave exists and FlushSlaveTimeout when the ack did not come
// within slaveTimeout; the message stays stored on the master either way. It blocks its caller:
// replicateThen with a wait on its answer (writes that are not a connection's sends, and the
// broker's own fenced writes in controller mode).
func (b *Broker) replicate(res commitlog.PutResult, wait bool) processor.ReplicaStatus {
	if b.fo == nil && b.haMaster != nil && (res.Status == commitlog.PutOK || res.Status == commitlog.FlushDiskTimeout) {
		if c := b.conf(); c.BrokerRole != RoleSyncMaster || !wait {
			// No ack to wait for (replicateThen's answer without a callback): every
			// ASYNC_MASTER write passes here, so no channel and no closure.
			b.haMaster.Wake()
			return replicaOK
		}
	}
	return b.replicateWait(res, wait)
}

// replicateWait is replicate's path that may wait for a slave (or a quorum in controller mode).
func (b *Broker) replicateWait(res commitlog.PutResult, wait bool) processor.ReplicaStatus {
	ch := make(chan processor.ReplicaStatus, 1)
	st, deferred := b.replicateThen(res, wait, func(st processor.ReplicaStatus) { ch <- st })
	if !deferred {
		return st
	}
	return <-ch
}

// replicateThen is replicate for a caller that answers later: when the write waits for a
// slave's ack it registers the wait with the HA master (ha.Master.AfterAck: no goroutine, no
// timer per write) and reports deferred=true; done then runs once with the outcome on the HA
// master's answering goroutine: ReplicaOK only after a slave's ack covering res.EndOffset,
// ReplicaTimeout after slaveTimeout or when the master stops first.
func (b *Broker) replicateThen(res commitlog.PutResult, wait bool, done func(processor.ReplicaStatus)) (processor.ReplicaStatus, bool) {
	if b.fo != nil {
		return b.fo.replicateThen(res, wait, done)
	}
	if b.haMaster == nil || (res.Status != commitlog.PutOK && res.Status != commitlog.FlushDiskTimeout) {
		return replicaOK, false
	}
	b.haMaster.Wake()
	c := b.conf()
	if c.BrokerRole != RoleSyncMaster || !wait {
		return replicaOK, false
	}
	if !b.haMaster.SlaveOK(res.EndOffset, c.HaSlaveFallbehindMax) {
		return replicaSlaveNotAvailable, false
	}
	deferred, st := b.haMaster.AfterAck(ha.AckWait{Offset: res.EndOffset, Timeout: ms(c.SlaveTimeout)},
		func(st ha.AckStatus) { done(ackReplica(st)) })
	return ackReplica(st), deferred
}

// ackReplica maps an ack wait's outcome: only an ack is success.
func ackReplica(st ha.AckStatus) processor.ReplicaStatus {
	if st == ha.AckOK {
		return replicaOK
	}
	return replicaTimeout
}

const (
	replicaOK                = processor.ReplicaOK
	replicaSlaveNotAvailable = processor.ReplicaSlaveNotAvailable
	replicaTimeout           = processor.ReplicaTimeout
	replicaNotEnough         = processor.ReplicaNotEnough // controller mode: fewer SyncStateSet members than minInSyncReplicas
)

// replicaStatus is the replication outcome of a store write.
type replicaStatus = processor.ReplicaStatus

// slaveSyncLoop copies topics, consumer offsets, delay offsets and subscription groups from the
// master every 10 s (first after 3 s), so a consumer that moves to the slave continues where it
// was (§5.5).
func (b *Broker) slaveSyncLoop(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(b.slaveSyncFirst):
	}
	t := time.NewTicker(b.slaveSyncEvery)
	defer t.Stop()
	for {
		if addr := b.masterAddr.Load().(string); addr != "" && addr != b.conf().BrokerAddr() && !b.conf().IsMaster() {
			b.syncFromMaster(ctx, addr)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Broker) syncFromMaster(ctx context.Context, addr string) {
	call := func(code int32, v any) bool {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		resp, err := b.rpc.Invoke(cctx, addr, remoting.NewRequest(code, nil, nil))
		if err != nil || resp.Code != remoting.Success {
			b.log.Warn("metadata sync from master failed", "master", addr, "code", code, "err", err)
			return false
		}
		if err := json.Unmarshal(resp.Body, v); err != nil {
			b.log.Warn("metadata sync: bad body from master", "master", addr, "code", code, "err", err)
			return false
		}
		return true
	}
	// A topic or group the master pushed while its table was being fetched may be missing from
	// that table: the tables are replaced only when nothing changed locally since the fetch began
	// (the next round brings them).
	seenTopics, seenGroups := b.topics.Version(), b.groups.Version()
	var topics metadata.TopicTable
	if call(remoting.GetAllTopicConfig, &topics) {
		if changed, err := b.topics.ReplaceSince(seenTopics, topics); err != nil {
			b.log.Error("persist synced topics failed", "err", err)
		} else if changed {
			b.log.Info("topics synced from master", "master", addr, "topics", len(topics.TopicConfigTable))
			b.triggerRegister()
		}
	}
	var offsets metadata.OffsetTable
	if call(remoting.GetAllConsumerOffset, &offsets) {
		b.offsets.Merge(offsets)
	}
	var delay metadata.DelayOffsetTable
	if call(remoting.GetAllDelayOffset, &delay) {
		b.delayOffsets.Replace(delay)
	}
	var groups metadata.GroupTable
	if call(remoting.GetAllSubscriptionGroupConfig, &groups) {
		if _, err := b.groups.ReplaceSince(seenGroups, groups); err != nil {
			b.log.Error("persist synced groups failed", "err", err)
		}
	}
}
