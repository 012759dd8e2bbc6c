package broker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bctl "github.com/skiffmq/skiff/broker/controller"
	"github.com/skiffmq/skiff/broker/ha"
	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/broker/processor"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/controlapi"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// failover is the broker's controller mode (enableControllerMode): a loop that heartbeats the
// controller, switches the role it is told, keeps the SyncStateSet of a master, and the pieces
// the request path asks (may this broker acknowledge writes, whom must a send wait for).
//
// Concurrency: model (a) for the role: only the loop goroutine switches roles; mu guards node,
// tracker and inflight, which requests and the HA goroutines read. The role switch order is:
// epoch file, then the configuration (BrokerRole/BrokerID), so a send never passes the master
// check before the epoch is durable.
type failover struct {
	b      *Broker
	log    *slog.Logger
	epochs *bctl.EpochFile

	mu       sync.Mutex
	node     *bctl.Node
	tracker  *bctl.SyncTracker
	inflight []int64          // a SyncStateSet proposal not yet answered
	addrs    map[int64]string // replicas' remoting addresses, as the controller gave them last
	// held back: queues where a pull found messages not yet confirmed (see confirmedReads),
	// with the commit-log end those pulls wait for.
	heldBack map[queueKey]heldBackRead
	// confirmedHigh: the highest confirmedOffset of this mastership (a replica joining the
	// SyncStateSet may still lack data that was confirmed before: it never lowers the point).
	confirmedHigh int64
	broken        error // the epoch file could not be written: never act as master
	// handingOver: shutting down, the mastership is being handed over (handover): sends are refused.
	handingOver bool

	wake        chan struct{}
	ctlIdx      int // controller address tried first (loop only)
	lastErr     string
	switches    atomic.Int64
	truncations atomic.Int64
}

func newFailover(b *Broker) (*failover, error) {
	ef, err := bctl.OpenEpochFile(filepath.Join(b.conf().StorePathRootDir, "epochFile"), b.log)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	fo := &failover{b: b, log: b.log.With("component", "failover"), epochs: ef,
		node: bctl.NewNode(b.conf().ReplicaID, ef.LastEpoch()), wake: make(chan struct{}, 1)}
	b.pullProc.Store = confirmedReads{Store: b.store, fo: fo}
	b.topics.SetBeforeCreate(fo.pushTopic)
	b.groups.SetBeforeCreate(fo.pushGroup)
	fo.log.Info("controller mode", "replicaId", b.conf().ReplicaID, "epochFile", ef.Entries(), "controller", b.conf().ControllerAddrs())
	return fo, nil
}

// start starts HA in both directions (the slave side idles while this broker is master) and the
// controller loop. It runs in Broker.Start after the remoting server is up.
func (fo *failover) start() error {
	b := fo.b
	c := b.conf()
	haTLS, haPermissive := b.haServerTLS()
	b.haMaster = ha.NewMaster(ha.MasterConfig{
		Addr: net.JoinHostPort(c.HaBindAddress, strconv.Itoa(c.HaListenPort)), Store: b.store,
		SegmentSize: c.MappedFileSizeCommitLog, BatchSize: c.HaTransferBatchSize,
		HeartbeatInterval: ms(c.HaSendHeartbeatInterval), Housekeeping: ms(c.HaHousekeepingInterval),
		Logger: b.log, Accept: fo.accept,
		Secret: b.sec.secret, TLS: haTLS, TLSPermissive: haPermissive,
		HandshakeTimeout: min(10*time.Second, ms(c.HaHousekeepingInterval)),
		AckTimeout:       ms(c.SlaveTimeout), // the timeout ticker of SYNC_MASTER waits
	})
	if err := b.haMaster.Start(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	b.haSlave = ha.NewSlave(ha.SlaveConfig{Store: b.store, HeartbeatInterval: ms(c.HaSendHeartbeatInterval),
		Housekeeping: ms(c.HaHousekeepingInterval), RetryInterval: time.Second, Logger: b.log,
		ReplicaID: c.ReplicaID, Epoch: fo.epoch, Prepare: fo.prepare, Secret: b.sec.secret, TLS: b.sec.clientTLS})
	b.haSlave.Start()
	if m := b.metrics; m != nil {
		m.Gauge("skiff_controller_role", func() float64 { return float64(fo.snapshot().Role) })
		m.Gauge("skiff_controller_master_epoch", func() float64 { return float64(fo.epoch()) })
		m.Gauge("skiff_controller_role_switches_total", func() float64 { return float64(fo.switches.Load()) })
		m.Gauge("skiff_controller_truncations_total", func() float64 { return float64(fo.truncations.Load()) })
		m.Gauge("skiff_controller_sync_state_set_size", func() float64 { return float64(len(fo.snapshot().Info.SyncStateSet)) })
	}
	b.goLoop("controller", fo.loop)
	return nil
}

func (fo *failover) snapshot() bctl.Node {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return *fo.node
}

func (fo *failover) epoch() int64 {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return fo.node.Epoch
}

// writable reports whether this broker may acknowledge writes now: master of its epoch, inside
// its lease, with a durable epoch file.
func (fo *failover) writable() bool {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return fo.broken == nil && fo.node.Writable(fo.b.now())
}

// checkSend refuses a send before it is stored: not (or no longer) master, or a SyncStateSet
// smaller than minInSyncReplicas.
func (fo *failover) checkSend(req *remoting.Command) *remoting.Command {
	fo.mu.Lock()
	leaving := fo.handingOver
	fo.mu.Unlock()
	if leaving {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is shutting down and hands its mastership over", fo.b.conf().BrokerAddr())
	}
	if !fo.writable() {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is not the master of its set (controller mode)", fo.b.conf().BrokerAddr())
	}
	n := fo.snapshot()
	if len(n.Info.SyncStateSet) < fo.b.conf().MinInSyncReplicas {
		return errResp(req, remoting.SystemError, "in-sync replicas not enough")
	}
	return nil
}

// replicateThen is, for a stored send, the wait until the replicas the master must wait for
// have the bytes: every one (allAckInSyncStateSet) or minInSyncReplicas-1 of them. The replicas
// and their number are fixed when the send is stored (the SyncStateSet of now, plus replicas
// joining it); only acks from their live connections count, and the HA master accepts a
// replica's connection only for the current epoch (accept) and drops them all when this broker
// stops being master. The wait is registered with the HA master (AfterAck) and answered there;
// done runs once with the outcome, which is ReplicaOK only when the acks covered the send and
// this broker is still the writable master at that moment.
func (fo *failover) replicateThen(res commitlog.PutResult, wait bool, done func(replicaStatus)) (replicaStatus, bool) {
	b := fo.b
	if res.Status != commitlog.PutOK && res.Status != commitlog.FlushDiskTimeout {
		return replicaOK, false
	}
	b.haMaster.Wake()
	fo.mu.Lock()
	if fo.tracker == nil {
		fo.mu.Unlock()
		return replicaTimeout, false
	}
	set := fo.node.Info.SyncStateSet
	waitSet := fo.tracker.WaitSet(set, fo.inflight)
	fo.mu.Unlock()
	c := b.conf()
	if len(set) < c.MinInSyncReplicas {
		return replicaNotEnough, false
	}
	if !wait {
		return replicaOK, false
	}
	need := len(waitSet)
	if !c.AllAckInSyncStateSet {
		need = min(need, c.MinInSyncReplicas-1)
	}
	if need <= 0 {
		return fo.acked(res, ha.AckOK), false
	}
	deferred, st := b.haMaster.AfterAck(ha.AckWait{Offset: res.EndOffset, Replicas: waitSet, Need: need, Timeout: ms(c.SlaveTimeout)},
		func(st ha.AckStatus) { done(fo.acked(res, st)) })
	if deferred {
		return 0, true
	}
	return fo.acked(res, st), false
}

// acked finishes a send's replica wait that ended with st: success only when the acks covered it
// and this broker is still the writable master (deposed or the lease ran out while waiting: not
// an acknowledgement); then the send is confirmed and held pulls it covers are released.
func (fo *failover) acked(res commitlog.PutResult, st ha.AckStatus) replicaStatus {
	if st != ha.AckOK || !fo.writable() {
		return replicaTimeout
	}
	fo.mu.Lock()
	fo.confirmedHigh = max(fo.confirmedHigh, res.EndOffset) // acknowledged: confirmed by definition
	fo.mu.Unlock()
	fo.releaseReads()
	return replicaOK
}

// confirmedOffset is, on a master, the commit-log offset up to which every message is on the
// replicas a send waits for (the same rule as replicate: all of them with allAckInSyncStateSet,
// else minInSyncReplicas-1): what a switch cannot lose. ok is false on a broker that is not
// master (no limit applies).
func (fo *failover) confirmedOffset() (confirmed int64, ok bool) {
	b := fo.b
	fo.mu.Lock()
	if fo.node.Role != bctl.RoleMaster || fo.tracker == nil {
		fo.mu.Unlock()
		return 0, false
	}
	waitSet := fo.tracker.WaitSet(fo.node.Info.SyncStateSet, fo.inflight)
	fo.mu.Unlock()
	end := b.store.MaxPhyOffset()
	c := b.conf()
	need := len(waitSet)
	if !c.AllAckInSyncStateSet {
		need = min(need, c.MinInSyncReplicas-1)
	}
	if need <= 0 {
		fo.mu.Lock()
		fo.confirmedHigh = max(fo.confirmedHigh, end)
		fo.mu.Unlock()
		return end, true
	}
	acks := make([]int64, 0, len(waitSet))
	for _, id := range waitSet {
		acks = append(acks, b.haMaster.AckOf(id))
	}
	slices.Sort(acks)
	confirmed = min(acks[len(acks)-need], end)
	fo.mu.Lock()
	defer fo.mu.Unlock()
	fo.confirmedHigh = max(fo.confirmedHigh, confirmed)
	return fo.confirmedHigh, true
}

// heldBackRead is a queue whose pulls wait until the commit log is confirmed up to physEnd.
type heldBackRead struct{ physEnd int64 }

// holdBack records that pulls of key wait for the commit log to be confirmed up to physEnd.
func (fo *failover) holdBack(key queueKey, physEnd int64) {
	fo.mu.Lock()
	if fo.heldBack == nil {
		fo.heldBack = map[queueKey]heldBackRead{}
	}
	if physEnd > fo.heldBack[key].physEnd {
		fo.heldBack[key] = heldBackRead{physEnd: physEnd}
	}
	fo.mu.Unlock()
}

// readHeldBack reports whether a pull of key should wait (be held) although the queue has
// entries past its offset: they are not confirmed yet.
func (fo *failover) readHeldBack(key queueKey) bool {
	fo.mu.Lock()
	hb, ok := fo.heldBack[key]
	fo.mu.Unlock()
	if !ok {
		return false
	}
	if confirmed, master := fo.confirmedOffset(); master && confirmed < hb.physEnd {
		return true
	}
	fo.mu.Lock()
	if fo.heldBack[key] == hb {
		delete(fo.heldBack, key)
	}
	fo.mu.Unlock()
	return false
}

// releaseReads wakes the held pulls of every queue whose waited-for end is now confirmed (after
// an acknowledged send; the hold service's sweep catches any other progress).
func (fo *failover) releaseReads() {
	fo.mu.Lock()
	n := len(fo.heldBack)
	fo.mu.Unlock()
	if n == 0 {
		return
	}
	confirmed, master := fo.confirmedOffset()
	var ready []queueKey
	fo.mu.Lock()
	for k, hb := range fo.heldBack {
		if !master || hb.physEnd <= confirmed {
			ready = append(ready, k)
			delete(fo.heldBack, k)
		}
	}
	fo.mu.Unlock()
	for _, k := range ready {
		fo.b.hold.notify(k, math.MaxInt64, nil)
	}
}

// confirmedReads is the pull processor's store in controller mode: a master hands consumers only
// messages that are confirmed (confirmedOffset). A consumer that read, and committed past, a
// message the SyncStateSet does not have yet would, after a switch to a master without it, skip
// the different message the new master stores at that queue offset. A pull that finds only
// unconfirmed messages is held (long polling) until they are confirmed.
type confirmedReads struct {
	processor.Store
	fo *failover
}

func (s confirmedReads) GetMessage(topic string, queueID int32, offset int64, maxMsgNums int, match func(tagsCode int64) bool) commitlog.GetResult {
	res := s.Store.GetMessage(topic, queueID, offset, maxMsgNums, match)
	limit, master := s.fo.confirmedOffset()
	if !master || res.MaxPhyOffset <= limit {
		return res
	}
	keep, size, next := 0, 0, offset
	for _, raw := range res.Messages {
		if int64(binary.BigEndian.Uint64(raw[28:]))+int64(len(raw)) > limit {
			break
		}
		keep++
		size += len(raw)
		next = int64(binary.BigEndian.Uint64(raw[20:])) + 1
	}
	// Entries the store skipped (tag filter) may be unconfirmed too: the consumer goes on from
	// just after the last message it gets, never further.
	res.NextBeginOffset = min(res.NextBeginOffset, next)
	if keep == len(res.Messages) && res.Status == commitlog.Found {
		return res
	}
	s.fo.holdBack(queueKey{topic, queueID}, res.MaxPhyOffset)
	if keep == 0 {
		if res.Status == commitlog.Found || res.Status == commitlog.NoMatchedMessage {
			res.Status = commitlog.OffsetOverflowOne // nothing readable yet: held until confirmed
		}
		res.Messages, res.Body = nil, nil
		return res
	}
	res.Messages = res.Messages[:keep]
	if res.Body != nil {
		res.Body = res.Body[:size]
	}
	last := res.Messages[keep-1]
	res.LastPhyOffset = int64(binary.BigEndian.Uint64(last[28:]))
	return res
}

// handover runs first when a controller-mode master shuts down (SIGTERM): it stops taking sends,
// waits (at most 2 s) until the replicas a send waits for hold its whole log, and asks the
// controller to elect another in-sync replica now (CONTROLLER_ELECT_MASTER, the controller's
// choice), so producers move within a round trip instead of after
// controllerHeartBeatTimeoutMills. Without another in-sync replica, or when the controller
// refuses, the shutdown goes on and the set fails over as after a crash. Nothing acknowledged is
// at risk either way: the new master comes from the SyncStateSet.
func (fo *failover) handover(ctx context.Context) {
	b := fo.b
	fo.mu.Lock()
	if fo.node.Role != bctl.RoleMaster || fo.tracker == nil || fo.broken != nil {
		fo.mu.Unlock()
		return
	}
	fo.handingOver = true
	info := fo.node.Info
	waitSet := fo.tracker.WaitSet(info.SyncStateSet, fo.inflight)
	fo.mu.Unlock()
	if len(info.SyncStateSet) < 2 {
		fo.log.Warn("shutting down the master with no other in-sync replica: no handover, the set has no master until a member returns",
			"syncStateSet", info.SyncStateSet)
		return
	}
	t0 := time.Now()
	end := b.store.MaxPhyOffset()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	caughtUp := b.haMaster.WaitFor(wctx, func() bool {
		for _, id := range waitSet {
			if b.haMaster.AckOf(id) < end {
				return false
			}
		}
		return true
	})
	cancel()
	resp, err := fo.callOnce(ctx, controlapi.ElectMaster, map[string]string{"brokerName": b.conf().BrokerName, "brokerId": "0"}, nil)
	if err != nil {
		fo.log.Warn("handover before shutdown refused: the set fails over after the heartbeat timeout", "err", err)
		return
	}
	next, err := controlapi.ReplicaInfoFromExt(resp.ExtFields)
	if err != nil {
		fo.log.Warn("handover before shutdown: bad controller answer", "err", err)
		return
	}
	fo.log.Info("mastership handed over before shutdown", "newMaster", next.MasterBrokerID, "masterEpoch", next.MasterEpoch,
		"replicasHadTheLog", caughtUp, "took", time.Since(t0))
	fo.apply(next, b.now(), 0)
}

// accept is the HA master's check of a slave's hello.
func (fo *failover) accept(replicaID, epoch int64) error {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	if fo.node.Role != bctl.RoleMaster {
		return fmt.Errorf("broker: replica %d wants to follow, but this broker is not master", replicaID)
	}
	if epoch > fo.node.Epoch {
		select {
		case fo.wake <- struct{}{}:
		default:
		}
		return fmt.Errorf("broker: replica %d accepted master epoch %d, newer than this master's %d", replicaID, epoch, fo.node.Epoch)
	}
	return nil
}

// prepare runs before a slave connects to its master's HA port: the master must be master of an
// epoch at least as new as the accepted one; the local log is cut back to where it agrees with
// the master's (durably), and the master's epoch lines are copied.
func (fo *failover) prepare(masterAddr string) (string, error) {
	b := fo.b
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	resp, err := b.rpc.Invoke(ctx, masterAddr, remoting.NewRequest(controlapi.GetBrokerEpochCache, nil, nil))
	if err != nil {
		return "", fmt.Errorf("broker: epoch cache of master %s: %w", masterAddr, err)
	}
	if resp.Code != remoting.Success {
		return "", fmt.Errorf("broker: epoch cache of master %s: code %d %s", masterAddr, resp.Code, resp.Remark)
	}
	cache, err := controlapi.DecodeEpochCache(resp.Body)
	if err != nil {
		return "", fmt.Errorf("broker: epoch cache of master %s: %w", masterAddr, err)
	}
	n := fo.snapshot()
	if n.Role != bctl.RoleSlave || n.Info.MasterAddress != masterAddr {
		return "", fmt.Errorf("broker: %s is not the master this replica follows", masterAddr)
	}
	if !cache.Master || cache.MasterEpoch < n.Epoch {
		return "", fmt.Errorf("broker: %s is not master of epoch %d (it says master=%v in epoch %d)", masterAddr, n.Epoch, cache.Master, cache.MasterEpoch)
	}
	local, localMax := fo.epochs.Entries(), b.store.MaxPhyOffset()
	off, ok := controlapi.ConsistentOffset(local, localMax, cache.Entries, cache.MaxOffset)
	if !ok {
		if len(local) > 0 && localMax > 0 {
			return "", fmt.Errorf("broker: the local log (epochs %v, end %d) shares no epoch with master %s (%v): repair the store", local, localMax, masterAddr, cache.Entries)
		}
		off = min(localMax, cache.MaxOffset)
	}
	if off < localMax {
		fo.log.Warn("truncating the divergent tail before following the new master", "master", masterAddr, "from", localMax,
			"to", off, "localEpochs", local, "masterEpochs", cache.Entries)
		if err := b.store.TruncateTo(off); err != nil {
			return "", fmt.Errorf("broker: truncate to %d: %w", off, err)
		}
		fo.truncations.Add(1)
	}
	if err := fo.epochs.Replace(cache.Entries); err != nil {
		return "", err
	}
	if cache.HaServerAddr == "" {
		return "", fmt.Errorf("broker: master %s has no HA address", masterAddr)
	}
	return cache.HaServerAddr, nil
}

// loop heartbeats the controller every brokerHeartbeatInterval (at once after a notice) and acts
// on the answers.
func (fo *failover) loop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-fo.wake:
		}
		fo.round(ctx)
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(ms(fo.b.conf().BrokerHeartbeatInterval))
	}
}

func (fo *failover) round(ctx context.Context) {
	b := fo.b
	c := b.conf()
	sentAt := b.now()
	ext := map[string]string{
		"clusterName": c.BrokerClusterName, "brokerName": c.BrokerName, "brokerId": strconv.FormatInt(c.ReplicaID, 10),
		"brokerAddr": c.BrokerAddr(), "epoch": strconv.FormatInt(fo.epochs.LastEpoch(), 10),
		"maxOffset": strconv.FormatInt(b.store.MaxPhyOffset(), 10), "electionPriority": strconv.FormatInt(c.BrokerElectionPriority, 10),
	}
	resp, err := fo.call(ctx, controlapi.BrokerHeartbeat, ext, nil)
	if err != nil {
		fo.noteErr("controller heartbeat failed", err)
		return
	}
	info, err := controlapi.ReplicaInfoFromExt(resp.ExtFields)
	if err != nil {
		fo.noteErr("controller heartbeat: bad answer", err)
		return
	}
	lease, _ := controlapi.IntField(resp.ExtFields, "heartbeatTimeoutMills")
	fo.lastErr = ""
	fo.apply(info, sentAt, time.Duration(lease)*time.Millisecond)
	fo.keepSyncStateSet(ctx)
}

func (fo *failover) noteErr(msg string, err error) {
	if s := err.Error(); s != fo.lastErr {
		fo.lastErr = s
		fo.log.Warn(msg, "err", err)
	}
}

// call sends a controller request to the controller addresses in turn, starting with the one
// that answered last, and follows a NOT_LEADER answer that names the leader.
func (fo *failover) call(ctx context.Context, code int32, ext map[string]string, body []byte) (*remoting.Command, error) {
	addrs := fo.b.conf().ControllerAddrs()
	if len(addrs) == 0 {
		return nil, errors.New("broker: no controllerAddr and no namesrvAddr")
	}
	var last error
	for i := range addrs {
		addr := addrs[(fo.ctlIdx+i)%len(addrs)]
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		resp, err := fo.b.rpc.Invoke(cctx, addr, remoting.NewRequest(code, copyMap(ext), body))
		cancel()
		if err != nil {
			last = err
			continue
		}
		if resp.Code == controlapi.NotLeader {
			last = fmt.Errorf("controller %s: %s", addr, resp.Remark)
			continue
		}
		fo.ctlIdx = (fo.ctlIdx + i) % len(addrs)
		if resp.Code != remoting.Success {
			return resp, fmt.Errorf("controller %s: code %d: %s", addr, resp.Code, resp.Remark)
		}
		return resp, nil
	}
	return nil, last
}

// apply acts on the controller's view of the set.
func (fo *failover) apply(info controlapi.ReplicaInfo, sentAt time.Time, lease time.Duration) {
	fo.mu.Lock()
	change := fo.node.Observe(info, sentAt, lease)
	fo.mu.Unlock()
	switch change {
	case bctl.BecomeMaster:
		fo.becomeMaster(info)
	case bctl.BecomeSlave:
		fo.becomeSlave(info)
	case bctl.BecomeNone:
		fo.becomeNone(info)
	}
}

func (fo *failover) setRole(master bool) {
	b := fo.b
	for {
		old := b.cfgPtr.Load()
		next := *old
		if master {
			next.BrokerRole, next.BrokerID = RoleSyncMaster, 0
		} else {
			next.BrokerRole, next.BrokerID = RoleSlave, next.ReplicaID
		}
		if b.cfgPtr.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (fo *failover) becomeMaster(info controlapi.ReplicaInfo) {
	b := fo.b
	t0 := b.now()
	b.haSlave.SetMasterAddr("")
	deadline := time.Now().Add(3 * time.Second)
	for b.haSlave.Connected() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the replication session ends once its connection is closed
	}
	if err := b.store.PrepareWrites(); err != nil {
		fo.mu.Lock()
		fo.broken = err
		fo.mu.Unlock()
		fo.log.Error("store not ready for writes; refusing to act as master", "epoch", info.MasterEpoch, "err", err)
		return
	}
	fo.clampOffsets()
	start := b.store.MaxPhyOffset()
	if err := fo.epochs.StartEpoch(info.MasterEpoch, start); err != nil {
		fo.mu.Lock()
		fo.broken = err
		fo.mu.Unlock()
		fo.log.Error("cannot record the new epoch; refusing to act as master", "epoch", info.MasterEpoch, "err", err)
		return
	}
	fo.mu.Lock()
	fo.broken = nil
	fo.tracker = bctl.NewSyncTracker(b.conf().ReplicaID, ms(b.conf().HaMaxTimeSlaveNotCatchup), b.now(), start)
	fo.inflight = nil
	fo.confirmedHigh, fo.heldBack = 0, nil
	fo.mu.Unlock()
	fo.setRole(true)
	b.masterAddr.Store(b.conf().BrokerAddr())
	b.triggerRegister()
	fo.switches.Add(1)
	fo.log.Info("role changed: master", "epoch", info.MasterEpoch, "startOffset", start, "syncStateSet", info.SyncStateSet,
		"took", b.now().Sub(t0))
}

// clampOffsets moves every consumer offset that points past its queue's end back to the end. A
// consumer may have read (and committed past) messages of a deposed master that this log does
// not hold; left alone, the offset would skip the messages this master writes at those queue
// offsets. Moving back only redelivers.
func (fo *failover) clampOffsets() {
	b := fo.b
	snap := b.offsets.Snapshot()
	clamped := 0
	for key, queues := range snap.OffsetTable {
		topic, _, ok := strings.Cut(key, "@")
		if !ok {
			continue
		}
		for q, off := range queues {
			if end := b.store.MaxOffsetInQueue(topic, q); off > end {
				queues[q] = end
				clamped++
			}
		}
	}
	if clamped > 0 {
		b.offsets.Merge(snap)
		fo.log.Warn("consumer offsets past the end of their queue moved back (redelivery, never a skip)", "offsets", clamped)
	}
}

func (fo *failover) becomeSlave(info controlapi.ReplicaInfo) {
	b := fo.b
	fo.setRole(false)
	b.haMaster.DropAll("no longer master")
	b.masterAddr.Store(info.MasterAddress)
	b.haSlave.SetMasterAddr("") // reconnect even to the same address: the epoch changed
	b.haSlave.SetMasterAddr(info.MasterAddress)
	b.triggerRegister()
	fo.switches.Add(1)
	fo.log.Info("role changed: slave", "epoch", info.MasterEpoch, "master", info.MasterBrokerID, "masterAddr", info.MasterAddress)
}

func (fo *failover) becomeNone(info controlapi.ReplicaInfo) {
	b := fo.b
	fo.setRole(false)
	b.haMaster.DropAll("the set has no master")
	b.haSlave.SetMasterAddr("")
	b.masterAddr.Store("")
	b.triggerRegister()
	fo.log.Warn("role changed: none (the set has no master)", "epoch", info.MasterEpoch, "syncStateSet", info.SyncStateSet)
}

// keepSyncStateSet (master) proposes a grown or shrunk SyncStateSet to the controller.
func (fo *failover) keepSyncStateSet(ctx context.Context) {
	b := fo.b
	fo.mu.Lock()
	if fo.node.Role != bctl.RoleMaster || fo.tracker == nil || fo.broken != nil {
		fo.mu.Unlock()
		return
	}
	info := fo.node.Info
	proposal := fo.tracker.Tick(b.now(), b.store.MaxPhyOffset(), b.haMaster.Acks(), info.SyncStateSet)
	if proposal != nil {
		fo.inflight = proposal
	}
	fo.mu.Unlock()
	if proposal == nil {
		return
	}
	var joining []int64
	for _, id := range proposal {
		if !slices.Contains(info.SyncStateSet, id) {
			joining = append(joining, id)
		}
	}
	if len(joining) > 0 {
		if err := fo.syncMetadataTo(ctx, joining); err != nil {
			fo.mu.Lock()
			fo.inflight = nil
			fo.mu.Unlock()
			fo.log.Warn("replicas not added to the SyncStateSet: their topics and groups could not be brought up to date", "replicas", joining, "err", err)
			return
		}
	}
	body, _ := json.Marshal(controlapi.SyncStateSetBody{SyncStateSet: proposal, SyncStateSetEpoch: info.SyncStateSetEpoch})
	sentAt := b.now()
	resp, err := fo.call(ctx, controlapi.AlterSyncStateSet, map[string]string{"brokerName": b.conf().BrokerName,
		"masterBrokerId": strconv.FormatInt(b.conf().ReplicaID, 10), "masterEpoch": strconv.FormatInt(info.MasterEpoch, 10)}, body)
	fo.mu.Lock()
	fo.inflight = nil
	fo.mu.Unlock()
	if err != nil {
		fo.log.Warn("syncStateSet change refused", "proposal", proposal, "err", err)
		return
	}
	next, err := controlapi.ReplicaInfoFromExt(resp.ExtFields)
	if err != nil {
		return
	}
	fo.apply(next, sentAt, 0)
	fo.log.Info("syncStateSet changed", "from", info.SyncStateSet, "to", next.SyncStateSet, "syncStateSetEpoch", next.SyncStateSetEpoch)
}

// handleEpochCache answers GET_BROKER_EPOCH_CACHE: the epoch lines, the end of the log and what
// this broker believes about its set.
func (b *Broker) handleEpochCache(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	fo := b.fo
	n := fo.snapshot()
	c := b.conf()
	cache := controlapi.EpochCache{BrokerName: c.BrokerName, BrokerID: c.ReplicaID, Master: n.Role == bctl.RoleMaster && c.IsMaster(),
		MaxOffset: b.store.MaxPhyOffset(), Entries: fo.epochs.Entries(), ReplicaInfo: n.Info, HaServerAddr: c.HAServerAddr()}
	cache.MasterEpoch = n.Epoch
	if cache.Entries == nil {
		cache.Entries = []controlapi.EpochEntry{}
	}
	body, _ := json.Marshal(cache)
	return respond(req, remoting.Success, "", nil, body)
}

// handleRoleNotice answers NOTIFY_BROKER_ROLE_CHANGED by heartbeating at once (the notice itself is
// not trusted: the answer to the heartbeat is).
func (b *Broker) handleRoleNotice(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	select {
	case b.fo.wake <- struct{}{}:
	default:
	}
	return respond(req, remoting.Success, "", nil, nil)
}

// syncStateSetOf is for diagnostics (runtime info).
func (fo *failover) syncStateSetOf() []int64 { return slices.Clone(fo.snapshot().Info.SyncStateSet) }

// replicatedField marks an admin request a master forwards to its in-sync replicas.
const replicatedField = "skiffReplicatedFromMaster"

// fromMaster reports whether req is a topic or group change forwarded by this set's master
// (controller mode), which a slave applies.
func (b *Broker) fromMaster(req *remoting.Command) bool {
	return b.fo != nil && req.ExtValue(replicatedField) == "true"
}

// replicatedAdmin wraps a topic or subscription-group handler (create/update, delete) on a
// controller-mode master: the change is answered only after every other SyncStateSet member
// applied it too, so a switch never loses a topic or group that was acknowledged, nor brings
// back one whose deletion was.
func (fo *failover) replicatedAdmin(h server.Handler) server.Handler {
	return func(ctx context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
		resp := h(ctx, c, req)
		if resp.Code != remoting.Success || fo.b.fromMaster(req) {
			return resp
		}
		if err := fo.toSyncStateSet(ctx, req); err != nil {
			fo.log.Warn("metadata change not on every in-sync replica", "code", req.Code, "err", err)
			return errResp(req, remoting.SystemError, "applied on the master but not on every in-sync replica: %v", err)
		}
		return resp
	}
}

// toSyncStateSet applies req (a topic or group change, marked as forwarded by the master) on
// every other replica this master must keep in step: the SyncStateSet members and the replicas
// being added (the ones a send waits for). The replicas are asked in parallel, each within
// slaveTimeout; the first failure is the error, naming the replica.
func (fo *failover) toSyncStateSet(ctx context.Context, req *remoting.Command) error {
	b := fo.b
	fo.mu.Lock()
	if fo.node.Role != bctl.RoleMaster || fo.tracker == nil {
		fo.mu.Unlock()
		return errors.New("this broker is not the master of its set")
	}
	targets := fo.tracker.WaitSet(fo.node.Info.SyncStateSet, fo.inflight)
	fo.mu.Unlock()
	if len(targets) == 0 {
		return nil
	}
	addrs, err := fo.replicaAddrs(ctx)
	if err != nil {
		return fmt.Errorf("addresses of replicas %v: %w", targets, err)
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, id := range targets {
		addr := addrs[id]
		if addr == "" {
			errs[i] = fmt.Errorf("replica %d: the controller knows no address for it", id)
			continue
		}
		ext := map[string]string{} // from either header form (a raw handler keeps it as a list)
		req.RangeExt(func(k, v string) bool { ext[k] = v; return true })
		ext[replicatedField] = "true"
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, ms(b.conf().SlaveTimeout))
			defer cancel()
			out, err := b.rpc.Invoke(cctx, addr, remoting.NewRequest(req.Code, ext, req.Body))
			if err == nil && out.Code != remoting.Success {
				err = fmt.Errorf("code %d: %s", out.Code, out.Remark)
			}
			if err != nil {
				errs[i] = fmt.Errorf("replica %d (%s): %w", id, addr, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// replicaAddrs is the replicas' remoting addresses by replica id, from the controller; when the
// controller does not answer (its Raft group is electing), the addresses it gave last.
func (fo *failover) replicaAddrs(ctx context.Context) (map[int64]string, error) {
	b := fo.b
	names, _ := json.Marshal([]string{b.conf().BrokerName})
	resp, err := fo.callOnce(ctx, controlapi.GetSyncStateData, nil, names)
	var sets map[string]controlapi.SetInfo
	if err == nil {
		sets, err = controlapi.DecodeSyncStateData(resp.Body)
	}
	fo.mu.Lock()
	defer fo.mu.Unlock()
	if err != nil {
		if fo.addrs == nil {
			return nil, err
		}
		return fo.addrs, nil
	}
	m := map[int64]string{}
	for _, r := range sets[b.conf().BrokerName].Replicas {
		m[r.BrokerID] = r.BrokerAddr
	}
	fo.addrs = m
	return m, nil
}

// pushTopic is the topic table's before-create hook: on a controller-mode master, a topic created
// by a send or a heartbeat (auto-create) is applied on the in-sync replicas before it exists
// here, so a switch right after its first acknowledged use cannot lose it. Elsewhere it does
// nothing.
func (fo *failover) pushTopic(tc metadata.TopicConfig) error {
	if !fo.isMaster() || systemTopic(tc.TopicName) {
		return nil
	}
	err := fo.toSyncStateSet(fo.b.ctx, createTopicRequest(tc))
	if err != nil {
		fo.log.Warn("auto-created topic not on every in-sync replica: not created", "topic", tc.TopicName, "err", err)
		return fmt.Errorf("not on every in-sync replica: %w", err)
	}
	return nil
}

// pushGroup is the subscription-group table's before-create hook (see pushTopic).
func (fo *failover) pushGroup(gc metadata.SubscriptionGroupConfig) error {
	if !fo.isMaster() {
		return nil
	}
	body, _ := json.Marshal(gc)
	err := fo.toSyncStateSet(fo.b.ctx, remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup, nil, body))
	if err != nil {
		fo.log.Warn("auto-created subscription group not on every in-sync replica: not created", "group", gc.GroupName, "err", err)
		return fmt.Errorf("not on every in-sync replica: %w", err)
	}
	return nil
}

// systemTopic: every broker creates these itself (and a replica refuses them from outside).
func systemTopic(name string) bool {
	return metadata.IsSystemTopic(name) || name == metadata.TopicDefault
}

func createTopicRequest(tc metadata.TopicConfig) *remoting.Command {
	ext := map[string]string{"topic": tc.TopicName, "readQueueNums": strconv.Itoa(int(tc.ReadQueueNums)),
		"writeQueueNums": strconv.Itoa(int(tc.WriteQueueNums)), "perm": strconv.Itoa(int(tc.Perm)),
		"topicFilterType": tc.TopicFilterType, "topicSysFlag": strconv.Itoa(int(tc.TopicSysFlag)), "order": strconv.FormatBool(tc.Order)}
	return remoting.NewRequest(remoting.UpdateAndCreateTopic, ext, nil)
}

// syncMetadataTo brings a replica that is about to join the SyncStateSet up to this master's
// topics and subscription groups (a replica that was down missed the ones created meanwhile, and
// the periodic metadata sync may not have run yet): it reads the replica's tables and applies
// every entry that is missing or different there. Entries created from now on are pushed to it
// anyway (it is in the set a send waits for).
func (fo *failover) syncMetadataTo(ctx context.Context, ids []int64) error {
	b := fo.b
	addrs, err := fo.replicaAddrs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		addr := addrs[id]
		if addr == "" {
			return fmt.Errorf("replica %d: the controller knows no address for it", id)
		}
		call := func(req *remoting.Command, out any) error {
			cctx, cancel := context.WithTimeout(ctx, ms(b.conf().SlaveTimeout))
			defer cancel()
			if out == nil {
				req.ExtFields[replicatedField] = "true"
			}
			resp, err := b.rpc.Invoke(cctx, addr, req)
			if err == nil && resp.Code != remoting.Success {
				err = fmt.Errorf("code %d: %s", resp.Code, resp.Remark)
			}
			if err == nil && out != nil {
				err = json.Unmarshal(resp.Body, out)
			}
			if err != nil {
				return fmt.Errorf("replica %d (%s): request %d: %w", id, addr, req.Code, err)
			}
			return nil
		}
		var topics metadata.TopicTable
		if err := call(remoting.NewRequest(remoting.GetAllTopicConfig, nil, nil), &topics); err != nil {
			return err
		}
		for name, tc := range b.topics.Snapshot().TopicConfigTable {
			if have, ok := topics.TopicConfigTable[name]; (!ok || have != tc) && !systemTopic(name) {
				if err := call(createTopicRequest(tc), nil); err != nil {
					return err
				}
			}
		}
		var groups metadata.GroupTable
		if err := call(remoting.NewRequest(remoting.GetAllSubscriptionGroupConfig, nil, nil), &groups); err != nil {
			return err
		}
		for name, gc := range b.groups.Snapshot().SubscriptionGroupTable {
			if have, ok := groups.SubscriptionGroupTable[name]; !ok || have != gc {
				body, _ := json.Marshal(gc)
				if err := call(remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup, map[string]string{}, body), nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (fo *failover) isMaster() bool {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return fo.node.Role == bctl.RoleMaster
}

// callOnce is call for request goroutines: it does not move the loop's preferred address.
func (fo *failover) callOnce(ctx context.Context, code int32, ext map[string]string, body []byte) (*remoting.Command, error) {
	var last error
	for _, addr := range fo.b.conf().ControllerAddrs() {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		resp, err := fo.b.rpc.Invoke(cctx, addr, remoting.NewRequest(code, copyMap(ext), body))
		cancel()
		if err == nil && resp.Code == remoting.Success {
			return resp, nil
		}
		if err == nil {
			err = fmt.Errorf("controller %s: code %d: %s", addr, resp.Code, resp.Remark)
		}
		last = err
	}
	return nil, last
}
