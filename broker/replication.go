package broker

import (
	"context"
	"encoding/json"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/broker/processor"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/remoting"
)

// replicate applies the SYNC_MASTER rule to a stored message (§5.4): wake the HA writers and, on a
// SYNC_MASTER, wait until a slave acknowledged res.EndOffset. The result's status becomes
// SlaveNotAvailable when no healthy slave exists and FlushSlaveTimeout when the ack did not come
// within slaveTimeout; the message stays stored on the master either way.
func (b *Broker) replicate(res commitlog.PutResult, wait bool) processor.ReplicaStatus {
	if b.fo != nil {
		return b.fo.replicate(res, wait)
	}
	if b.haMaster == nil || (res.Status != commitlog.PutOK && res.Status != commitlog.FlushDiskTimeout) {
		return replicaOK
	}
	b.haMaster.Wake()
	if b.conf().BrokerRole != RoleSyncMaster || !wait {
		return replicaOK
	}
	if !b.haMaster.SlaveOK(res.EndOffset, b.conf().HaSlaveFallbehindMax) {
		return replicaSlaveNotAvailable
	}
	ctx, cancel := context.WithTimeout(context.Background(), ms(b.conf().SlaveTimeout))
	defer cancel()
	if !b.haMaster.WaitAck(ctx, res.EndOffset) {
		return replicaTimeout
	}
	return replicaOK
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
