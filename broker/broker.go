// Package broker is the Skiff broker: it connects the commit-log store, the remoting server, the
// request handlers, name-server registration, long polling, the delay-level schedule and
// housekeeping, and shuts them down in the reverse order.
//
// Lifecycle: New validates the configuration, locks the store folder and opens the store (running
// recovery); Start binds the remoting port, registers with every name server and starts the loops;
// Shutdown stops accepting requests, unregisters, answers held pulls, drains the workers, stops
// the server, persists offsets and metadata and closes the store. The hot paths are processors in
// package broker/processor (Send, Pull, and Writer, the one door every store write goes through),
// wired to the broker's store, tables, HA master and long-poll service in processors.go; the
// other handlers live in one file per group of requests (offsets.go, client.go, admin.go,
// sendback.go, transaction.go). The store's statuses are mapped to response codes in
// processor/codes.go.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/broker/ha"
	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/broker/processor"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/controlapi"
	"github.com/skiffmq/skiff/internal/daemon"
	"github.com/skiffmq/skiff/internal/httpapi"
	"github.com/skiffmq/skiff/internal/metrics"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// Broker is one broker process's server.
type Broker struct {
	cfgPtr      atomic.Pointer[Config] // replaced as a whole by UPDATE_BROKER_CONFIG (copy on write)
	log         *slog.Logger
	now         func() time.Time
	storeHost   netip.AddrPort
	delayLevels []time.Duration

	store        *commitlog.Store
	topics       *metadata.Topics
	groups       *metadata.Groups
	offsets      *metadata.Offsets
	delayOffsets *metadata.DelayOffsets
	clients      *clientManager
	produced     producedTopics // (producer group, topic) pairs per connection (producerinfo.go)
	hold         *holdService
	writer       *processor.Writer // the one door to the store
	procSnap     atomic.Pointer[procSnapshot]
	sendProc     *processor.Send
	pullProc     *processor.Pull
	srv          *server.Server
	rpc          *rpc.Client
	unlockStore  func()
	locks        *processor.QueueLockTable
	stats        brokerStats
	haMaster     *ha.Master   // masters only
	haSlave      *ha.Slave    // slaves only
	fo           *failover    // controller mode only (then haMaster and haSlave both exist)
	masterAddr   atomic.Value // string: the master's remoting address (slaves), from registration
	sendBackProc *processor.SendBack
	adminProc    *processor.Admin
	clientProc   *processor.ClientManage
	offsetProc   *processor.QueueOffsets
	txProc       *processor.Transactions
	schedProc    *processor.Schedule
	metrics      *metrics.Set
	topicMetrics sync.Map // topic → *topicMetrics (observe.go)
	latencyOnce  sync.Once
	sendHist     metrics.Histogram
	pullHist     metrics.Histogram
	http         *httpapi.Server
	storeReady   atomic.Bool
	sec          brokerSecurity

	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	started    atomic.Bool
	stopped    atomic.Bool
	registered atomic.Bool
	registerCh chan struct{}

	slaveSyncFirst, slaveSyncEvery time.Duration // metadata sync from the master: 3 s after Start, then every 10 s (RocketMQ's); tests shorten them
}

// New validates cfg, locks the store folder and opens the store, which runs recovery.
func New(cfg Config, log *slog.Logger) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "broker")
	ip, err := netip.ParseAddr(cfg.BrokerIP1)
	if err != nil {
		return nil, fmt.Errorf("broker: brokerIP1 = %q: %w", cfg.BrokerIP1, err)
	}
	levels, _ := ParseDelayLevels(cfg.MessageDelayLevel)
	unlock, err := daemon.LockDir(cfg.StorePathRootDir)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	b := &Broker{
		log: log, now: time.Now, delayLevels: levels,
		storeHost:   netip.AddrPortFrom(ip.Unmap(), uint16(cfg.ListenPort)),
		clients:     newClientManager(log),
		locks:       processor.NewQueueLockTable(),
		unlockStore: unlock,
		registerCh:  make(chan struct{}, 1),

		slaveSyncFirst: 3 * time.Second, slaveSyncEvery: 10 * time.Second,
	}
	b.cfgPtr.Store(&cfg)
	fail := func(err error) (*Broker, error) {
		b.stopHTTP(context.Background())
		if b.store != nil {
			_ = b.store.Close()
		}
		unlock()
		return nil, err
	}
	if err := b.startHTTP(); err != nil {
		return fail(err)
	}
	if err := b.setupSecurity(); err != nil {
		return fail(err)
	}
	if b.topics, err = metadata.LoadTopics(cfg.StorePathRootDir, nil, log); err != nil {
		return fail(err)
	}
	if b.groups, err = metadata.LoadGroups(cfg.StorePathRootDir, nil, log); err != nil {
		return fail(err)
	}
	if b.offsets, err = metadata.LoadOffsets(cfg.StorePathRootDir, log); err != nil {
		return fail(err)
	}
	if b.delayOffsets, err = metadata.LoadDelayOffsets(cfg.StorePathRootDir, log); err != nil {
		return fail(err)
	}
	sc := cfg.StoreConfig()
	sc.Logger = log
	if b.metrics != nil {
		sc.OnFlush = func(d time.Duration) { b.metrics.Observe("skiff_commitlog_flush_seconds", d) }
	}
	start := time.Now()
	if b.store, err = commitlog.Open(sc); err != nil {
		return fail(fmt.Errorf("broker: open store %s: %w", cfg.StorePathRootDir, err))
	}
	log.Info("store opened", "root", cfg.StorePathRootDir, "maxPhyOffset", b.store.MaxPhyOffset(), "took", time.Since(start))
	b.storeReady.Store(true)
	if err := b.createSystemTopics(); err != nil {
		return fail(err)
	}
	b.hold = newHoldService(b)
	b.newProcessors()
	b.store.OnDispatch(b.hold.onDispatch)
	return b, nil
}

// createSystemTopics creates the topics every RocketMQ broker has (§4.6).
func (b *Broker) createSystemTopics() error {
	rw := int32(metadata.PermRead | metadata.PermWrite)
	topics := []metadata.TopicConfig{
		{TopicName: metadata.TopicSelfTest, ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw},
		{TopicName: metadata.TopicOffsetMoved, ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw},
		{TopicName: metadata.TopicSchedule, ReadQueueNums: int32(len(b.delayLevels)), WriteQueueNums: int32(len(b.delayLevels)), Perm: rw},
		{TopicName: metadata.TopicTransHalf, ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw},
		{TopicName: metadata.TopicTransOpHalf, ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw},
		{TopicName: b.conf().BrokerClusterName + "_REPLY_TOPIC", ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw},
	}
	if b.conf().AutoCreateTopicEnable {
		n := b.conf().DefaultTopicQueueNums
		topics = append(topics, metadata.TopicConfig{TopicName: metadata.TopicDefault, ReadQueueNums: n, WriteQueueNums: n, Perm: rw | metadata.PermInherit})
	}
	if b.conf().ClusterTopicEnable {
		topics = append(topics, metadata.TopicConfig{TopicName: b.conf().BrokerClusterName, ReadQueueNums: 16, WriteQueueNums: 16, Perm: rw | metadata.PermInherit})
	}
	if b.conf().BrokerTopicEnable {
		topics = append(topics, metadata.TopicConfig{TopicName: b.conf().BrokerName, ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw | metadata.PermInherit})
	}
	for _, t := range topics {
		if metadata.ValidateTopic(t.TopicName) != nil {
			continue // a cluster or broker name that is not a valid topic name gets no topic
		}
		if _, _, err := b.topics.PutIfAbsent(t); err != nil {
			return err
		}
	}
	return nil
}

// Start binds the remoting port, starts the background loops and registers with the name servers.
func (b *Broker) Start() error {
	if !b.started.CompareAndSwap(false, true) {
		return errors.New("broker: already started")
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.rpc = rpc.New(rpc.Config{Logger: b.log, TLS: b.sec.clientTLS, Sign: b.signFunc()})
	b.srv = server.New(server.Config{
		Addr:    net.JoinHostPort(b.conf().BindAddress, strconv.Itoa(b.conf().ListenPort)),
		Logger:  b.log,
		TLS:     b.sec.serverTLS,
		TLSMode: b.conf().TLSServerMode,
		PoolConfigs: map[string]server.PoolConfig{
			poolSend:   {Workers: b.conf().SendMessageThreadPoolNums, Queue: 10000},
			poolPull:   {Workers: b.conf().PullMessageThreadPoolNums, Queue: 10000},
			poolClient: {Workers: 8, Queue: 10000},
			poolAdmin:  {Workers: 4, Queue: 1000},
		},
	})
	if b.conf().EnableControllerMode {
		fo, err := newFailover(b)
		if err != nil {
			b.cancel()
			return err
		}
		b.fo = fo
	}
	b.srv.SetAuthorizer(b.authorizer())
	b.registerHandlers()
	b.srv.OnConnClose(b.onConnClose)
	// Replication is set up before the remoting server accepts requests: send handlers read
	// haMaster/haSlave, which must be written before any handler can run.
	b.masterAddr.Store("")
	if b.fo != nil {
		if err := b.fo.start(); err != nil {
			b.cancel()
			return err
		}
	} else if b.conf().IsMaster() {
		haTLS, haPermissive := b.haServerTLS()
		b.haMaster = ha.NewMaster(ha.MasterConfig{
			Addr: net.JoinHostPort(b.conf().HaBindAddress, strconv.Itoa(b.conf().HaListenPort)), Store: b.store,
			SegmentSize: b.conf().MappedFileSizeCommitLog, BatchSize: b.conf().HaTransferBatchSize,
			HeartbeatInterval: ms(b.conf().HaSendHeartbeatInterval), Housekeeping: ms(b.conf().HaHousekeepingInterval),
			Logger: b.log, Secret: b.sec.secret, TLS: haTLS, TLSPermissive: haPermissive,
			HandshakeTimeout: min(10*time.Second, ms(b.conf().HaHousekeepingInterval)),
			AckTimeout:       ms(b.conf().SlaveTimeout), // the timeout ticker of SYNC_MASTER waits
		})
		if err := b.haMaster.Start(); err != nil {
			b.cancel()
			return fmt.Errorf("broker: %w", err)
		}
	} else {
		b.haSlave = ha.NewSlave(ha.SlaveConfig{Store: b.store, HeartbeatInterval: ms(b.conf().HaSendHeartbeatInterval),
			Housekeeping: ms(b.conf().HaHousekeepingInterval), Logger: b.log, Secret: b.sec.secret, TLS: b.sec.clientTLS})
		if len(b.conf().HaMasterAddress) >= 6 {
			b.haSlave.SetMasterAddr(b.conf().HaMasterAddress)
		}
		b.haSlave.Start()
	}
	if err := b.srv.Start(); err != nil {
		if b.haMaster != nil {
			b.haMaster.Close()
		}
		if b.haSlave != nil {
			b.haSlave.Close()
		}
		b.cancel()
		return fmt.Errorf("broker: listen on port %d: %w", b.conf().ListenPort, err)
	}
	if b.haSlave != nil { // a slave, or any broker in controller mode
		b.goLoop("slave-sync", b.slaveSyncLoop)
	}
	b.hold.start()
	b.goLoop("register", b.registerLoop)
	b.goLoop("persist", b.persistLoop)
	b.goLoop("client-scan", b.clientScanLoop)
	b.goLoop("stats", b.statsLoop)
	if b.sec.guard.ACLEnabled() {
		b.goLoop("acl-reload", b.aclReloadLoop)
	}
	if b.conf().IsMaster() || b.fo != nil { // in controller mode they idle while not master
		b.goLoop("schedule", b.scheduleLoop)
		b.goLoop("transaction-check", b.transactionCheckLoop)
	}
	b.log.Info(fmt.Sprintf("The broker[%s, %s] boot success.", b.conf().BrokerName, b.conf().BrokerAddr()),
		"cluster", b.conf().BrokerClusterName, "role", b.conf().BrokerRole, "flush", b.conf().FlushDiskType,
		"namesrv", b.conf().NamesrvAddr)
	return nil
}

func (b *Broker) goLoop(name string, fn func(ctx context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn(b.ctx)
	}()
}

// Addr is the remoting address clients use.
func (b *Broker) Addr() string { return b.conf().BrokerAddr() }

// Ready reports whether the store is open and healthy (no sticky flush error) and the broker has
// registered with at least one name server.
func (b *Broker) Ready() bool { return b.NotReadyReason() == "" }

// NotReadyReason says why the broker is not ready ("" when it is): recovery still running, not
// registered yet, or a flush error that made the store refuse writes until a restart.
func (b *Broker) NotReadyReason() string {
	switch {
	case !b.storeOpen():
		return "store recovery in progress"
	case b.store.FlushError() != nil:
		return "store is not writeable: " + b.store.FlushError().Error()
	case !b.started.Load():
		return "not started"
	case !b.registered.Load():
		return "not registered with a name server yet"
	}
	return ""
}

// Config returns the validated configuration.
func (b *Broker) Config() Config { return *b.conf() }

// conf is the current configuration; callers must not modify it.
func (b *Broker) conf() *Config { return b.cfgPtr.Load() }

// Shutdown stops the broker gracefully, in this order: stop accepting requests and connections
// (new requests are answered SERVICE_NOT_AVAILABLE, so no pull can be held after the next
// step), unregister from the name servers, answer the held pulls, drain the worker pools (every
// queued request is answered), close the connections, stop the loops and HA, persist offsets and
// metadata, flush and close the store. It is idempotent.
func (b *Broker) Shutdown(ctx context.Context) error {
	if !b.stopped.CompareAndSwap(false, true) {
		return nil
	}
	start := time.Now()
	var errs []error
	if b.started.Load() {
		if b.fo != nil {
			b.fo.handover(ctx) // a controller-mode master: another in-sync replica takes over now
		}
		b.srv.StopAccepting()
		b.unregisterAll(ctx)
		b.hold.stop()
		if err := b.srv.Drain(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := b.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		b.cancel()
		b.wg.Wait()
		if b.haMaster != nil {
			b.haMaster.Close()
		}
		if b.haSlave != nil {
			b.haSlave.Close()
		}
		_ = b.rpc.Close()
	}
	if err := b.offsets.Persist(); err != nil {
		errs = append(errs, err)
	}
	b.stopHTTP(ctx)
	if err := b.delayOffsets.Persist(); err != nil {
		errs = append(errs, err)
	}
	if err := b.store.Close(); err != nil {
		errs = append(errs, err)
	}
	b.unlockStore()
	b.log.Info("broker shut down", "took", time.Since(start))
	return errors.Join(errs...)
}

// onConnClose treats a closed connection as the client unregistering from every group.
func (b *Broker) onConnClose(c *server.Conn) {
	for _, g := range b.clients.Unregister(c.ID(), "", "") {
		b.log.Info("consumer left group", "group", g, "addr", c.RemoteAddr())
		b.notifyIDsChanged(g)
	}
	b.hold.dropConn(c.ID())
	b.produced.drop(c.ID())
}

// persistLoop writes consumer and delay offsets periodically.
func (b *Broker) persistLoop(ctx context.Context) {
	t := time.NewTicker(ms(b.conf().FlushConsumerOffsetInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.offsets.Persist(); err != nil {
				b.log.Error("persist consumer offsets failed", "err", err)
			}
			if err := b.delayOffsets.Persist(); err != nil {
				b.log.Error("persist delay offsets failed", "err", err)
			}
		}
	}
}

// clientScanLoop drops client connections silent for longer than clientChannelExpiredTime.
func (b *Broker) clientScanLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, c := range b.clients.expired(b.now(), ms(b.conf().ClientChannelExpiredTime)) {
				b.log.Info("client connection expired", "addr", c.RemoteAddr())
				c.Close()
				b.onConnClose(c)
			}
		}
	}
}

// Request classes: each has its own bounded worker pool so that slow disk sends never delay pulls
// or heartbeats.
const (
	poolSend   = "send"
	poolPull   = "pull"
	poolClient = "client"
	poolAdmin  = "admin"
)

func (b *Broker) registerHandlers() {
	h := b.srv.Handle
	// The hot paths read typed headers from the raw extFields list (no map per request).
	b.srv.HandleRaw(remoting.SendMessage, poolSend, b.sendProc.Handle)
	b.srv.HandleRaw(remoting.SendMessageV2, poolSend, b.sendProc.Handle)
	b.srv.HandleRaw(remoting.SendBatchMessage, poolSend, b.sendProc.Handle)
	for _, code := range []int32{remoting.SendMessage, remoting.SendMessageV2, remoting.SendBatchMessage} {
		b.srv.SetInline(code, b.sendInline) // on the event loop when it cannot block (sendMessageInline)
	}
	b.srv.HandleRaw(remoting.PullMessage, poolPull, b.pullProc.Handle)
	b.srv.HandleRaw(remoting.ConsumerSendMsgBack, poolSend, b.sendBackProc.Handle)
	b.srv.HandleRaw(remoting.EndTransaction, poolSend, b.txProc.EndTransaction)
	raw := b.srv.HandleRaw
	raw(remoting.QueryConsumerOffset, poolClient, b.offsetProc.QueryConsumerOffset)
	raw(remoting.UpdateConsumerOffset, poolClient, b.offsetProc.UpdateConsumerOffset)
	raw(remoting.GetMaxOffset, poolClient, b.offsetProc.GetMaxOffset)
	raw(remoting.GetMinOffset, poolClient, b.offsetProc.GetMinOffset)
	raw(remoting.SearchOffsetByTimestamp, poolClient, b.offsetProc.SearchOffsetByTimestamp)
	raw(remoting.GetEarliestMsgStoretime, poolClient, b.offsetProc.EarliestMsgStoreTime)
	raw(remoting.HeartBeat, poolClient, b.clientProc.Heartbeat)
	raw(remoting.UnregisterClient, poolClient, b.clientProc.Unregister)
	raw(remoting.GetConsumerListByGroup, poolClient, b.clientProc.ConsumerList)
	raw(remoting.LockBatchMQ, poolClient, b.clientProc.LockBatch)
	raw(remoting.UnlockBatchMQ, poolClient, b.clientProc.UnlockBatch)
	h(remoting.UpdateAndCreateTopic, poolAdmin, b.adminProc.CreateTopic)
	h(remoting.DeleteTopicInBroker, poolAdmin, b.adminProc.DeleteTopic)
	h(remoting.GetAllTopicConfig, poolAdmin, b.adminProc.GetAllTopicConfig)
	h(remoting.GetAllConsumerOffset, poolAdmin, b.adminProc.GetAllConsumerOffset)
	h(remoting.GetAllDelayOffset, poolAdmin, b.adminProc.GetAllDelayOffset)
	h(remoting.UpdateAndCreateSubscriptionGroup, poolAdmin, b.adminProc.CreateGroup)
	h(remoting.GetAllSubscriptionGroupConfig, poolAdmin, b.adminProc.GetAllGroups)
	h(remoting.DeleteSubscriptionGroup, poolAdmin, b.adminProc.DeleteGroup)
	h(remoting.GetTopicStatsInfo, poolAdmin, b.adminProc.TopicStats)
	h(remoting.GetConsumerConnectionList, poolAdmin, b.handleConsumerConnections)
	h(remoting.GetProducerConnectionList, poolAdmin, b.handleProducerConnections)
	h(remoting.GetAllProducerInfo, poolAdmin, b.handleAllProducerInfo)
	h(remoting.GetConsumeStats, poolAdmin, b.adminProc.ConsumeStats)
	h(remoting.GetBrokerRuntimeInfo, poolAdmin, b.handleRuntimeInfo)
	h(remoting.GetBrokerConfig, poolAdmin, b.handleGetBrokerConfig)
	h(remoting.InvokeBrokerToResetOffset, poolAdmin, b.adminProc.ResetOffset)
	h(remoting.UpdateBrokerConfig, poolAdmin, b.handleUpdateBrokerConfig)
	h(remoting.QueryMessage, poolAdmin, b.adminProc.QueryMessage)
	h(remoting.ViewMessageByID, poolAdmin, b.adminProc.ViewMessage)
	if b.fo != nil {
		h(remoting.UpdateAndCreateTopic, poolAdmin, b.fo.replicatedAdmin(b.adminProc.CreateTopic))
		h(remoting.UpdateAndCreateSubscriptionGroup, poolAdmin, b.fo.replicatedAdmin(b.adminProc.CreateGroup))
		h(remoting.DeleteTopicInBroker, poolAdmin, b.fo.replicatedAdmin(b.adminProc.DeleteTopic))
		h(remoting.DeleteSubscriptionGroup, poolAdmin, b.fo.replicatedAdmin(b.adminProc.DeleteGroup))
		h(controlapi.GetBrokerEpochCache, poolAdmin, b.handleEpochCache)
		h(controlapi.NotifyBrokerRoleChanged, poolAdmin, b.handleRoleNotice)
	}
}
