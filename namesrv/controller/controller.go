package controller

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/skiffmq/skiff/internal/controlapi"
)

// Sentinel errors.
var (
	// ErrNotLeader is returned by operations on a node that is not the Raft leader.
	ErrNotLeader = errors.New("controller: not the leader")
	// ErrBadPeers is returned by ParsePeers for a controllerPeers value it cannot read.
	ErrBadPeers = errors.New("controller: bad controllerPeers")
)

// Peer is one controller node: its id and Raft address.
type Peer struct {
	ID   string
	Addr string
}

// ParsePeers reads controllerPeers: "n0-127.0.0.1:9878;n1-127.0.0.1:9868;n2-127.0.0.1:9858".
func ParsePeers(s string) ([]Peer, error) {
	var out []Peer
	seen := map[string]bool{}
	for _, p := range strings.Split(s, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		id, addr, ok := strings.Cut(p, "-")
		if !ok || id == "" || !strings.Contains(addr, ":") {
			return nil, fmt.Errorf("%w: %q: want id-host:port", ErrBadPeers, p)
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: node id %q appears twice", ErrBadPeers, id)
		}
		seen[id] = true
		out = append(out, Peer{ID: id, Addr: addr})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q names no node", ErrBadPeers, s)
	}
	return out, nil
}

// Config configures a Controller.
type Config struct {
	SelfID           string        // controllerSelfId
	Peers            []Peer        // controllerPeers
	StorePath        string        // controllerStorePath: the Raft log (bolt) and snapshots
	HeartbeatTimeout time.Duration // controllerHeartBeatTimeoutMills, default 10 s
	Unclean          bool          // enableElectUncleanMaster
	NamesrvAddr      string        // this node's name-server address, published while it leads
	Now              func() time.Time
	Logger           *slog.Logger
	// OnChange is called (on the loop goroutine) after the leader changed a set's master; the
	// name server logs, counts and notifies the set's brokers. It must not block for long.
	OnChange func(set BrokerSet)

	// Secret, when set (clusterSecret), authenticates every Raft connection between controller
	// nodes with the cluster handshake (auth.go); nil keeps plain TCP.
	Secret []byte
	// Test seams: when Transport is set, the stores below are used instead of files.
	Transport   raft.Transport
	LogStore    raft.LogStore
	StableStore raft.StableStore
	Snapshots   raft.SnapshotStore
}

// Controller is one node of the failover controller: a Raft group member whose state machine is
// State, plus, on the leader, the heartbeat table and the loop that elects a new master when one
// dies.
//
// Concurrency: the deterministic parts (State, Liveness) have no goroutines of their own. The
// Controller owns one loop goroutine (time, leadership changes, elections); mu guards live and
// leaderSince; requests call in from the name server's worker pool.
type Controller struct {
	cfg      Config
	log      *slog.Logger
	fsm      *fsm
	raft     *raft.Raft
	bolt     *raftboltdb.BoltStore
	ownTrans io.Closer // the TCP transport New opened (nil with an injected one)

	mu       sync.Mutex
	live     *Liveness
	ready    bool // leader and its state machine caught up (Barrier done)
	switches atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// New opens the Raft stores, bootstraps the group on first start and starts Raft. Start starts
// the election loop.
func New(cfg Config) (*Controller, error) {
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "controller", "node", cfg.SelfID)
	var self *Peer
	for i := range cfg.Peers {
		if cfg.Peers[i].ID == cfg.SelfID {
			self = &cfg.Peers[i]
		}
	}
	if self == nil {
		return nil, fmt.Errorf("controller: controllerSelfId = %q is not in controllerPeers", cfg.SelfID)
	}
	c := &Controller{cfg: cfg, log: log, fsm: newFSM(log), live: NewLiveness(cfg.HeartbeatTimeout, cfg.Now()), stop: make(chan struct{})}
	rlog := &raftLog{log: log.With("component", "raft")}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.SelfID)
	rc.LogOutput = rlog
	rc.LogLevel = "INFO"
	// Raft's own failure detection must be well inside the brokers' heartbeat timeout, so that a
	// dead leader is replaced before a dead master is noticed.
	rt := min(max(cfg.HeartbeatTimeout/5, 200*time.Millisecond), time.Second)
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = rt, rt, rt/2
	rc.SnapshotThreshold = 1024
	rc.SnapshotInterval = 30 * time.Second

	trans, logs, stable, snaps := cfg.Transport, cfg.LogStore, cfg.StableStore, cfg.Snapshots
	if trans == nil {
		if cfg.StorePath == "" {
			return nil, errors.New("controller: controllerStorePath is empty")
		}
		dir := filepath.Join(cfg.StorePath, "raft")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
		bolt, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
		if err != nil {
			return nil, fmt.Errorf("controller: open raft log %s: %w", dir, err)
		}
		c.bolt = bolt
		logs, stable = bolt, bolt
		if snaps, err = raft.NewFileSnapshotStore(dir, 2, rlog); err != nil {
			_ = bolt.Close()
			return nil, fmt.Errorf("controller: snapshot store %s: %w", dir, err)
		}
		var tcp *raft.NetworkTransport
		if cfg.Secret != nil {
			var stream *authStream
			if stream, err = newAuthStream(self.Addr, cfg.Secret, 5*time.Second); err == nil {
				tcp = raft.NewNetworkTransport(stream, 3, 2*time.Second, rlog)
			}
		} else {
			tcp, err = raft.NewTCPTransport(self.Addr, nil, 3, 2*time.Second, rlog)
		}
		if err != nil {
			_ = bolt.Close()
			return nil, fmt.Errorf("controller: raft listen on %s: %w", self.Addr, err)
		}
		trans = tcp
		c.ownTrans = tcp
	}
	existing, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		c.closeStores()
		return nil, fmt.Errorf("controller: read raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, c.fsm, logs, stable, snaps, trans)
	if err != nil {
		c.closeStores()
		return nil, fmt.Errorf("controller: start raft: %w", err)
	}
	c.raft = r
	if !existing {
		// Every node bootstraps with the same configuration; hashicorp/raft accepts that.
		servers := make([]raft.Server, len(cfg.Peers))
		for i, p := range cfg.Peers {
			servers[i] = raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)}
		}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			_ = r.Shutdown().Error()
			c.closeStores()
			return nil, fmt.Errorf("controller: bootstrap: %w", err)
		}
		log.Info("controller group bootstrapped", "peers", len(cfg.Peers))
	}
	return c, nil
}

func (c *Controller) closeStores() {
	if c.ownTrans != nil {
		_ = c.ownTrans.Close()
	}
	if c.bolt != nil {
		_ = c.bolt.Close()
	}
}

// Start starts the loop that follows leadership and elects masters.
func (c *Controller) Start() {
	c.wg.Add(1)
	go c.loop()
	c.log.Info("controller started", "peers", len(c.cfg.Peers), "heartbeatTimeout", c.cfg.HeartbeatTimeout, "unclean", c.cfg.Unclean)
}

// Shutdown stops the loop and Raft and closes the stores. It is idempotent.
func (c *Controller) Shutdown() {
	c.once.Do(func() {
		close(c.stop)
		c.wg.Wait()
		if err := c.raft.Shutdown().Error(); err != nil {
			c.log.Warn("raft shutdown", "err", err)
		}
		c.closeStores()
		c.log.Info("controller stopped")
	})
}

// tick is the loop period: a tenth of the heartbeat timeout, 50 ms..1 s.
func (c *Controller) tick() time.Duration {
	return min(max(c.cfg.HeartbeatTimeout/10, 50*time.Millisecond), time.Second)
}

func (c *Controller) loop() {
	defer c.wg.Done()
	t := time.NewTicker(c.tick())
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.step()
	}
}

// step is one round of the loop: follow leadership, then, on a ready leader, elect where needed.
func (c *Controller) step() {
	leader := c.raft.State() == raft.Leader
	c.mu.Lock()
	wasReady := c.ready
	c.mu.Unlock()
	if !leader {
		if wasReady {
			c.mu.Lock()
			c.ready = false
			c.mu.Unlock()
			c.log.Info("controller lost leadership")
		}
		return
	}
	if !wasReady {
		// New leader: wait until every earlier entry is applied, then forget heartbeats (they
		// went to the old leader) and publish where to forward requests.
		if err := c.raft.Barrier(5 * time.Second).Error(); err != nil {
			c.log.Warn("controller barrier failed", "err", err)
			return
		}
		c.mu.Lock()
		c.live.Reset(c.cfg.Now())
		c.ready = true
		c.mu.Unlock()
		if _, err := c.propose(Command{Op: OpNodeAddr, NodeID: c.cfg.SelfID, NodeAddr: c.cfg.NamesrvAddr}); err != nil {
			c.log.Warn("publish controller address failed", "err", err)
		}
		c.log.Info("controller is the leader", "namesrvAddr", c.cfg.NamesrvAddr)
		return
	}
	c.electDead()
}

// electDead proposes a new master for every set whose master is dead or missing.
func (c *Controller) electDead() {
	now := c.cfg.Now()
	var cmds []Command
	var why []string
	c.fsm.view(func(st *State) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.live.NeedElection(st, now) {
			b := st.Sets[p.BrokerName]
			id, reason := c.live.Choose(b, now, c.cfg.Unclean, 0, p.DeadMaster)
			if id == 0 && p.DeadMaster == 0 {
				continue // no master and nobody to elect: wait
			}
			cmds = append(cmds, Command{Op: OpElectMaster, BrokerName: p.BrokerName, ExpectMasterEpoch: p.MasterEpoch,
				NewMasterID: id, Unclean: c.cfg.Unclean})
			why = append(why, reason)
		}
	})
	for i, cmd := range cmds {
		res, err := c.propose(cmd)
		if err != nil {
			c.log.Warn("elect master: proposal failed", "broker", cmd.BrokerName, "err", err)
			continue
		}
		if res.Code != controlapi.Success {
			c.log.Info("elect master refused", "broker", cmd.BrokerName, "code", res.Code, "remark", res.Remark)
			continue
		}
		if cmd.NewMasterID == 0 {
			c.log.Warn("master dead and no replica can be elected: the set has no master", "broker", cmd.BrokerName,
				"reason", why[i], "masterEpoch", res.Info.MasterEpoch, "syncStateSet", res.Info.SyncStateSet)
		} else {
			c.log.Info("master elected", "broker", cmd.BrokerName, "newMaster", res.Info.MasterBrokerID,
				"masterAddr", res.Info.MasterAddress, "masterEpoch", res.Info.MasterEpoch)
		}
		c.changed(cmd.BrokerName)
	}
}

func (c *Controller) changed(name string) {
	c.switches.Add(1)
	if c.cfg.OnChange == nil {
		return
	}
	var set *BrokerSet
	c.fsm.view(func(st *State) { set, _ = st.Set(name) })
	if set != nil {
		c.cfg.OnChange(*set)
	}
}

// Switches counts the master changes this node made as leader.
func (c *Controller) Switches() int64 { return c.switches.Load() }

// propose replicates cmd and returns how the state machine applied it.
func (c *Controller) propose(cmd Command) (Result, error) {
	b, err := encodeCommand(cmd)
	if err != nil {
		return Result{}, err
	}
	f := c.raft.Apply(b, 5*time.Second)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return Result{}, ErrNotLeader
		}
		return Result{}, fmt.Errorf("controller: raft apply: %w", err)
	}
	res, _ := f.Response().(Result)
	return res, nil
}

// IsLeader reports whether this node is the Raft leader and has caught up.
func (c *Controller) IsLeader() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready && c.raft.State() == raft.Leader
}

// Leader returns the leader's node id and name-server address ("" when unknown).
func (c *Controller) Leader() (id, namesrvAddr string) {
	_, lid := c.raft.LeaderWithID()
	id = string(lid)
	if id == "" {
		return "", ""
	}
	c.fsm.view(func(st *State) { namesrvAddr = st.Nodes[id] })
	return id, namesrvAddr
}

// Metadata describes the controller group.
func (c *Controller) Metadata() controlapi.Metadata {
	id, addr := c.Leader()
	md := controlapi.Metadata{Group: "skiff-controller", ControllerLeaderID: id, ControllerLeaderAddr: addr,
		IsLeader: c.IsLeader(), SelfID: c.cfg.SelfID}
	c.fsm.view(func(st *State) {
		for _, p := range c.cfg.Peers {
			md.Peers = append(md.Peers, controlapi.Peer{ID: p.ID, RaftAddr: p.Addr, NamesrvAddr: st.Nodes[p.ID]})
		}
	})
	return md
}
