package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	inflight []int64 // a SyncStateSet proposal not yet answered
	broken   error   // the epoch file could not be written: never act as master

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
	if !fo.writable() {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is not the master of its set (controller mode)", fo.b.conf().BrokerAddr())
	}
	n := fo.snapshot()
	if len(n.Info.SyncStateSet) < fo.b.conf().MinInSyncReplicas {
		return errResp(req, remoting.SystemError, "in-sync replicas not enough")
	}
	return nil
}

// replicate waits, for a stored send, until the replicas the master must wait for have the
// bytes: every one (allAckInSyncStateSet) or minInSyncReplicas-1 of them.
func (fo *failover) replicate(res commitlog.PutResult, wait bool) replicaStatus {
	b := fo.b
	if res.Status != commitlog.PutOK && res.Status != commitlog.FlushDiskTimeout {
		return replicaOK
	}
	b.haMaster.Wake()
	fo.mu.Lock()
	if fo.tracker == nil {
		fo.mu.Unlock()
		return replicaTimeout
	}
	set := fo.node.Info.SyncStateSet
	waitSet := fo.tracker.WaitSet(set, fo.inflight)
	fo.mu.Unlock()
	c := b.conf()
	if len(set) < c.MinInSyncReplicas {
		return replicaNotEnough
	}
	if !wait {
		return replicaOK
	}
	need := len(waitSet)
	if !c.AllAckInSyncStateSet {
		need = min(need, c.MinInSyncReplicas-1)
	}
	if need > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), ms(c.SlaveTimeout))
		defer cancel()
		ok := b.haMaster.WaitFor(ctx, func() bool {
			n := 0
			for _, id := range waitSet {
				if b.haMaster.AckOf(id) >= res.EndOffset {
					n++
				}
			}
			return n >= need
		})
		if !ok {
			return replicaTimeout
		}
	}
	if !fo.writable() {
		return replicaTimeout // deposed or the lease ran out while waiting: not an acknowledgement
	}
	return replicaOK
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
	return b.fo != nil && req.ExtFields[replicatedField] == "true"
}

// replicatedAdmin wraps a topic or subscription-group handler on a controller-mode master: the
// change is answered only after every other SyncStateSet member applied it too, so a switch
// never loses a topic or group that was acknowledged.
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

func (fo *failover) toSyncStateSet(ctx context.Context, req *remoting.Command) error {
	b := fo.b
	names, _ := json.Marshal([]string{b.conf().BrokerName})
	resp, err := fo.callOnce(ctx, controlapi.GetSyncStateData, nil, names)
	if err != nil {
		return err
	}
	sets, err := controlapi.DecodeSyncStateData(resp.Body)
	if err != nil {
		return err
	}
	set := sets[b.conf().BrokerName]
	var errs []error
	for _, r := range set.Replicas {
		if r.BrokerID == b.conf().ReplicaID || !set.InSyncStateSet(r.BrokerID) {
			continue
		}
		ext := copyMap(req.ExtFields)
		ext[replicatedField] = "true"
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := b.rpc.Invoke(cctx, r.BrokerAddr, remoting.NewRequest(req.Code, ext, req.Body))
		cancel()
		if err == nil && out.Code != remoting.Success {
			err = fmt.Errorf("code %d: %s", out.Code, out.Remark)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("replica %d (%s): %w", r.BrokerID, r.BrokerAddr, err))
		}
	}
	return errors.Join(errs...)
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
