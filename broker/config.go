package broker

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/config"
	"github.com/skiffmq/skiff/internal/httpapi"
	"github.com/skiffmq/skiff/internal/security"
)

// Broker roles (brokerRole).
const (
	RoleAsyncMaster = "ASYNC_MASTER"
	RoleSyncMaster  = "SYNC_MASTER"
	RoleSlave       = "SLAVE"
)

// Flush disk types (flushDiskType).
const (
	AsyncFlush = "ASYNC_FLUSH"
	SyncFlush  = "SYNC_FLUSH"
)

// DefaultMessageDelayLevel is RocketMQ's default list of delay levels 1..18.
const DefaultMessageDelayLevel = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// Config is the broker configuration. TOML keys are RocketMQ's BrokerConfig, MessageStoreConfig and
// NettyServerConfig field names; durations are integers in the unit RocketMQ uses (ms unless the
// name says otherwise). Keys marked "Skiff" have no RocketMQ counterpart.
type Config struct {
	BrokerClusterName string `toml:"brokerClusterName"` // default DefaultCluster
	BrokerName        string `toml:"brokerName"`        // default: the host name
	BrokerID          int64  `toml:"brokerId"`          // 0 master, >0 slave
	BrokerRole        string `toml:"brokerRole"`        // ASYNC_MASTER | SYNC_MASTER | SLAVE
	NamesrvAddr       string `toml:"namesrvAddr"`       // "ip:port;ip:port"; env NAMESRV_ADDR when empty
	BrokerIP1         string `toml:"brokerIP1"`         // advertised address; default: first non-loopback IPv4
	BrokerIP2         string `toml:"brokerIP2"`         // HA address; default brokerIP1
	ListenPort        int    `toml:"listenPort"`        // 10911
	BindAddress       string `toml:"bindAddress"`       // Skiff: remoting listen address, default 0.0.0.0
	HaBindAddress     string `toml:"haBindAddress"`     // Skiff: HA listen address, default bindAddress
	HTTPBindAddress   string `toml:"httpBindAddress"`   // Skiff: HTTP listen address, default bindAddress
	HaListenPort      int    `toml:"haListenPort"`      // default listenPort+1
	HaMasterAddress   string `toml:"haMasterAddress"`   // static master HA address for a slave

	// Security (docs/security.md). Secrets never appear in logs or GET_BROKER_CONFIG.
	AclEnable         bool   `toml:"aclEnable"`         // RocketMQ plain ACL for client requests; default false
	AclFile           string `toml:"aclFile"`           // Skiff: plain_acl.yml; default conf/plain_acl.yml
	AclReloadInterval int    `toml:"aclReloadInterval"` // Skiff: ms between checks of aclFile for changes; 1000
	ClusterSecret     string `toml:"clusterSecret"`     // Skiff: shared secret of the nodes (>= 16 bytes); "" = links unauthenticated
	ClusterSecretFile string `toml:"clusterSecretFile"` // Skiff: file holding clusterSecret (trailing newline ignored)
	InnerAccessKey    string `toml:"innerAccessKey"`    // ACL credentials the broker signs its own calls with
	InnerSecretKey    string `toml:"innerSecretKey"`    // (name servers and master with ACL on, no clusterSecret)
	TLSServerMode     string `toml:"tlsServerMode"`     // disabled | permissive | enforcing; default disabled
	TLSServerCertPath string `toml:"tlsServerCertPath"` // PEM certificate chain of the remoting listener
	TLSServerKeyPath  string `toml:"tlsServerKeyPath"`  // PEM private key of the remoting listener
	TLSEnable         bool   `toml:"tlsEnable"`         // Skiff: the broker's own calls (name servers, master) use TLS
	TLSTrustCertPath  string `toml:"tlsTrustCertPath"`  // PEM CA for those calls; "" = system roots

	BrokerPermission               int32  `toml:"brokerPermission"`      // 6
	DefaultTopicQueueNums          int32  `toml:"defaultTopicQueueNums"` // 8
	AutoCreateTopicEnable          bool   `toml:"autoCreateTopicEnable"` // true
	ClusterTopicEnable             bool   `toml:"clusterTopicEnable"`
	BrokerTopicEnable              bool   `toml:"brokerTopicEnable"`
	AutoCreateSubscriptionGroup    bool   `toml:"autoCreateSubscriptionGroup"`
	FlushConsumerOffsetInterval    int    `toml:"flushConsumerOffsetInterval"` // ms, 5000
	FlushDelayOffsetInterval       int    `toml:"flushDelayOffsetInterval"`    // ms, 10000
	LongPollingEnable              bool   `toml:"longPollingEnable"`
	ShortPollingTimeMills          int    `toml:"shortPollingTimeMills"` // 1000
	NotifyConsumerIdsChangedEnable bool   `toml:"notifyConsumerIdsChangedEnable"`
	RegionID                       string `toml:"regionId"` // DefaultRegion
	TraceOn                        bool   `toml:"traceOn"`
	RegisterBrokerTimeoutMills     int    `toml:"registerBrokerTimeoutMills"` // 6000
	RegisterNameServerPeriod       int    `toml:"registerNameServerPeriod"`   // ms, 30000, clamped to 10000..60000
	SlaveReadEnable                bool   `toml:"slaveReadEnable"`
	RejectTransactionMessage       bool   `toml:"rejectTransactionMessage"`
	TransactionTimeOut             int    `toml:"transactionTimeOut"`       // ms, 6000
	TransactionCheckMax            int    `toml:"transactionCheckMax"`      // 15
	TransactionCheckInterval       int    `toml:"transactionCheckInterval"` // ms, 60000
	DefaultQueryMaxNum             int    `toml:"defaultQueryMaxNum"`       // 32
	SendMessageThreadPoolNums      int    `toml:"sendMessageThreadPoolNums"`
	SendMessageInline              bool   `toml:"sendMessageInline"` // Skiff: run sends on the remoting event loop when they cannot block; true
	PullMessageThreadPoolNums      int    `toml:"pullMessageThreadPoolNums"`
	ClientChannelExpiredTime       int    `toml:"clientChannelExpiredTime"` // Skiff: ms, 120000
	LogLevel                       string `toml:"logLevel"`                 // Skiff: debug|info|warn|error
	HTTPPort                       int    `toml:"httpPort"`                 // Skiff: /metrics, /healthz, /readyz, /api, /debug/pprof; 0 = listenPort+3, -1 = off
	DebugPprofRemote               bool   `toml:"debugPprofRemote"`         // Skiff: serve /debug/pprof to non-loopback clients too; false
	GCPercent                      int    `toml:"gcPercent"`                // Skiff: Go GC target (GOGC) of the mqbroker process, 10..10000, default 400; the GOGC env var wins

	StorePathRootDir                  string `toml:"storePathRootDir"` // ~/store
	StorePathCommitLog                string `toml:"storePathCommitLog"`
	MappedFileSizeCommitLog           int64  `toml:"mappedFileSizeCommitLog"`
	MappedFileSizeConsumeQueue        int64  `toml:"mappedFileSizeConsumeQueue"`
	FlushDiskType                     string `toml:"flushDiskType"`
	FlushIntervalCommitLog            int    `toml:"flushIntervalCommitLog"`
	FlushCommitLogLeastPages          int    `toml:"flushCommitLogLeastPages"`
	FlushCommitLogThoroughInterval    int    `toml:"flushCommitLogThoroughInterval"`
	FlushIntervalConsumeQueue         int    `toml:"flushIntervalConsumeQueue"`
	SyncFlushTimeout                  int    `toml:"syncFlushTimeout"`
	SlaveTimeout                      int    `toml:"slaveTimeout"`
	DeleteWhen                        string `toml:"deleteWhen"`
	FileReservedTime                  int    `toml:"fileReservedTime"` // hours
	DiskMaxUsedSpaceRatio             int    `toml:"diskMaxUsedSpaceRatio"`
	CleanResourceInterval             int    `toml:"cleanResourceInterval"`
	MaxMessageSize                    int    `toml:"maxMessageSize"`
	CheckCRCOnRecover                 bool   `toml:"checkCRCOnRecover"`
	MessageIndexEnable                bool   `toml:"messageIndexEnable"`
	MaxHashSlotNum                    int    `toml:"maxHashSlotNum"`
	MaxIndexNum                       int    `toml:"maxIndexNum"`
	MessageDelayLevel                 string `toml:"messageDelayLevel"`
	MaxTransferBytesOnMessageInMemory int    `toml:"maxTransferBytesOnMessageInMemory"`
	MaxTransferCountOnMessageInMemory int    `toml:"maxTransferCountOnMessageInMemory"`
	WarmMapedFileEnable               bool   `toml:"warmMapedFileEnable"`           // pre-fault pages ahead of the writer, create the next segment ahead; Skiff default true
	AccessMessageInMemoryMaxRatio     int    `toml:"accessMessageInMemoryMaxRatio"` // % of RAM: older data counts as "on disk"
	HaSendHeartbeatInterval           int    `toml:"haSendHeartbeatInterval"`
	HaHousekeepingInterval            int    `toml:"haHousekeepingInterval"`
	HaTransferBatchSize               int    `toml:"haTransferBatchSize"`
	HaSlaveFallbehindMax              int64  `toml:"haSlaveFallbehindMax"`

	// HTTPMounts are extra handlers served on the HTTP port under path prefixes (cmd/mqbroker
	// mounts the dashboard here); ignored when the HTTP port is off. Not read from TOML.
	HTTPMounts httpapi.Mounts `toml:"-"`

	// Controller mode (RocketMQ 5): the failover controller in the name servers decides the role.
	EnableControllerMode     bool   `toml:"enableControllerMode"`     // default false
	ControllerAddr           string `toml:"controllerAddr"`           // name servers running the controller, "ip:port;ip:port"; default namesrvAddr
	BrokerHeartbeatInterval  int    `toml:"brokerHeartbeatInterval"`  // ms between controller heartbeats, 1000
	HaMaxTimeSlaveNotCatchup int    `toml:"haMaxTimeSlaveNotCatchup"` // ms a SyncStateSet member may lag before it is removed, 15000
	AllAckInSyncStateSet     bool   `toml:"allAckInSyncStateSet"`     // a send waits for every SyncStateSet member, default false
	MinInSyncReplicas        int    `toml:"minInSyncReplicas"`        // fewer members: IN_SYNC_REPLICAS_NOT_ENOUGH, default 1
	BrokerElectionPriority   int64  `toml:"brokerElectionPriority"`   // smaller is elected first among equals, default 2147483647

	// ReplicaID is brokerId in controller mode (the stable replica id); BrokerID then shows the
	// current role (0 while master). Not read from TOML.
	ReplicaID int64 `toml:"-"`

	storeFS commitlog.FS // tests: the store's file system (nil: the OS)
}

// DefaultConfig returns every default, as RocketMQ 4.9 has them.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	home, _ := os.UserHomeDir()
	return Config{
		BrokerClusterName: "DefaultCluster", BrokerName: host, BrokerRole: RoleAsyncMaster,
		ListenPort: 10911, BindAddress: "0.0.0.0",
		BrokerPermission: 6, DefaultTopicQueueNums: 8, AutoCreateTopicEnable: true,
		ClusterTopicEnable: true, BrokerTopicEnable: true, AutoCreateSubscriptionGroup: true,
		FlushConsumerOffsetInterval: 5000, FlushDelayOffsetInterval: 10000,
		LongPollingEnable: true, ShortPollingTimeMills: 1000, NotifyConsumerIdsChangedEnable: true,
		RegionID: "DefaultRegion", TraceOn: true, RegisterBrokerTimeoutMills: 6000,
		RegisterNameServerPeriod: 30000, TransactionTimeOut: 6000, TransactionCheckMax: 15,
		TransactionCheckInterval: 60000, DefaultQueryMaxNum: 32,
		SendMessageThreadPoolNums: 128, SendMessageInline: true, PullMessageThreadPoolNums: 32, ClientChannelExpiredTime: 120000,
		LogLevel: "info", GCPercent: 400, AclFile: "conf/plain_acl.yml", AclReloadInterval: 1000, TLSServerMode: TLSDisabled,

		StorePathRootDir: filepath.Join(home, "store"), MappedFileSizeCommitLog: 1 << 30,
		MappedFileSizeConsumeQueue: 300000 * 20, FlushDiskType: AsyncFlush,
		FlushIntervalCommitLog: 500, FlushCommitLogLeastPages: 4, FlushCommitLogThoroughInterval: 10000,
		FlushIntervalConsumeQueue: 1000, SyncFlushTimeout: 5000, SlaveTimeout: 3000,
		DeleteWhen: "04", FileReservedTime: 72, DiskMaxUsedSpaceRatio: 75, CleanResourceInterval: 10000,
		MaxMessageSize: 4 << 20, CheckCRCOnRecover: true, MessageIndexEnable: true, WarmMapedFileEnable: true,
		MaxHashSlotNum: 5000000, MaxIndexNum: 20000000, MessageDelayLevel: DefaultMessageDelayLevel,
		MaxTransferBytesOnMessageInMemory: 256 << 10, MaxTransferCountOnMessageInMemory: 32,
		AccessMessageInMemoryMaxRatio: 40,
		HaSendHeartbeatInterval:       5000, HaHousekeepingInterval: 20000, HaTransferBatchSize: 32 << 10,
		HaSlaveFallbehindMax: 256 << 20,

		BrokerHeartbeatInterval: 1000, HaMaxTimeSlaveNotCatchup: 15000, MinInSyncReplicas: 1,
		BrokerElectionPriority: 1<<31 - 1,
	}
}

// LoadConfig reads a TOML file over the defaults; unknown keys and bad values are refused with
// the key named. An empty path returns the validated defaults.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		if err := config.Load(path, &cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, cfg.Validate()
}

// Validate checks every value, fills derived defaults (HA port, broker IPs, commit-log path) and
// applies RocketMQ's role rules. Errors name the key and the bad value.
func (c *Config) Validate() error {
	bad := func(key string, v any, why string) error {
		return fmt.Errorf("broker config: %s = %v: %s", key, v, why)
	}
	if c.EnableControllerMode {
		// The controller decides the role; brokerId is the replica's stable id.
		if c.ReplicaID == 0 {
			if c.BrokerID < 1 {
				return bad("brokerId", c.BrokerID, "in controller mode brokerId is the replica id and must be ≥ 1")
			}
			c.ReplicaID, c.BrokerRole = c.BrokerID, RoleSlave
		}
		if c.BrokerHeartbeatInterval < 10 {
			return bad("brokerHeartbeatInterval", c.BrokerHeartbeatInterval, "must be ≥ 10 (ms)")
		}
		if c.HaMaxTimeSlaveNotCatchup < 100 {
			return bad("haMaxTimeSlaveNotCatchup", c.HaMaxTimeSlaveNotCatchup, "must be ≥ 100 (ms)")
		}
		if c.MinInSyncReplicas < 1 {
			return bad("minInSyncReplicas", c.MinInSyncReplicas, "must be ≥ 1")
		}
	}
	switch c.BrokerRole {
	case RoleAsyncMaster, RoleSyncMaster:
		c.BrokerID = 0 // RocketMQ forces id 0 for master roles.
	case RoleSlave:
		if c.BrokerID <= 0 {
			return bad("brokerId", c.BrokerID, "a SLAVE's brokerId must be > 0")
		}
	default:
		return bad("brokerRole", c.BrokerRole, "must be ASYNC_MASTER, SYNC_MASTER or SLAVE")
	}
	if c.FlushDiskType != AsyncFlush && c.FlushDiskType != SyncFlush {
		return bad("flushDiskType", c.FlushDiskType, "must be ASYNC_FLUSH or SYNC_FLUSH")
	}
	if c.BrokerName == "" {
		return bad("brokerName", `""`, "must not be empty")
	}
	if c.BrokerClusterName == "" {
		return bad("brokerClusterName", `""`, "must not be empty")
	}
	if c.ListenPort <= 0 || c.ListenPort > 65535 {
		return bad("listenPort", c.ListenPort, "must be 1..65535")
	}
	for _, kv := range []struct {
		key string
		v   *string
	}{{"bindAddress", &c.BindAddress}, {"haBindAddress", &c.HaBindAddress}, {"httpBindAddress", &c.HTTPBindAddress}} {
		if *kv.v == "" && kv.key != "bindAddress" {
			*kv.v = c.BindAddress
		}
		if err := config.CheckBindAddress(*kv.v); err != nil {
			return bad(kv.key, fmt.Sprintf("%q", *kv.v), err.Error())
		}
	}
	if err := c.validateSecurity(); err != nil {
		return err
	}
	if c.HaListenPort == 0 {
		c.HaListenPort = c.ListenPort + 1
	}
	if c.HaListenPort <= 0 || c.HaListenPort > 65535 || c.HaListenPort == c.ListenPort {
		return bad("haListenPort", c.HaListenPort, "must be 1..65535 and differ from listenPort")
	}
	if c.HTTPPort == 0 {
		c.HTTPPort = c.ListenPort + 3
	}
	if c.HTTPPort < -1 || c.HTTPPort > 65535 || c.HTTPPort == c.ListenPort || c.HTTPPort == c.HaListenPort {
		return bad("httpPort", c.HTTPPort, "must be -1 (off), 0 (listenPort+3) or a free port other than listenPort and haListenPort")
	}
	if c.NamesrvAddr == "" {
		c.NamesrvAddr = os.Getenv("NAMESRV_ADDR")
	}
	if c.NamesrvAddr != "" {
		if _, err := config.ParseAddrList(c.NamesrvAddr); err != nil {
			return fmt.Errorf("broker config: namesrvAddr = %q: %w", c.NamesrvAddr, err)
		}
	}
	if _, err := config.ParseAddrList(c.ControllerAddr); err != nil {
		return fmt.Errorf("broker config: controllerAddr = %q: %w", c.ControllerAddr, err)
	}
	if c.BrokerIP1 == "" {
		c.BrokerIP1 = firstNonLoopbackIPv4()
	}
	if net.ParseIP(c.BrokerIP1) == nil {
		return bad("brokerIP1", c.BrokerIP1, "must be an IP address")
	}
	if c.BrokerIP2 == "" {
		c.BrokerIP2 = c.BrokerIP1
	}
	if c.BrokerPermission&^(6) != 0 || c.BrokerPermission == 0 {
		return bad("brokerPermission", c.BrokerPermission, "must be 2 (write), 4 (read) or 6")
	}
	if c.DefaultTopicQueueNums <= 0 || c.DefaultTopicQueueNums > 1024 {
		return bad("defaultTopicQueueNums", c.DefaultTopicQueueNums, "must be 1..1024")
	}
	if c.StorePathRootDir == "" {
		return bad("storePathRootDir", `""`, "must not be empty")
	}
	if c.StorePathCommitLog == "" {
		c.StorePathCommitLog = filepath.Join(c.StorePathRootDir, "commitlog")
	}
	if c.MappedFileSizeCommitLog < 64<<10 {
		return bad("mappedFileSizeCommitLog", c.MappedFileSizeCommitLog, "must be at least 65536")
	}
	if c.MappedFileSizeConsumeQueue <= 0 || c.MappedFileSizeConsumeQueue%20 != 0 {
		return bad("mappedFileSizeConsumeQueue", c.MappedFileSizeConsumeQueue, "must be a positive multiple of 20")
	}
	if c.MaxMessageSize <= 0 || int64(c.MaxMessageSize) > c.MappedFileSizeCommitLog/2 {
		return bad("maxMessageSize", c.MaxMessageSize, "must be positive and at most half of mappedFileSizeCommitLog")
	}
	for key, v := range map[string]int{
		"flushIntervalCommitLog": c.FlushIntervalCommitLog, "flushIntervalConsumeQueue": c.FlushIntervalConsumeQueue,
		"syncFlushTimeout": c.SyncFlushTimeout, "slaveTimeout": c.SlaveTimeout,
		"flushConsumerOffsetInterval": c.FlushConsumerOffsetInterval, "registerBrokerTimeoutMills": c.RegisterBrokerTimeoutMills,
		"cleanResourceInterval": c.CleanResourceInterval, "sendMessageThreadPoolNums": c.SendMessageThreadPoolNums,
		"pullMessageThreadPoolNums": c.PullMessageThreadPoolNums, "clientChannelExpiredTime": c.ClientChannelExpiredTime,
		"haTransferBatchSize": c.HaTransferBatchSize, "defaultQueryMaxNum": c.DefaultQueryMaxNum,
		"flushDelayOffsetInterval": c.FlushDelayOffsetInterval, "shortPollingTimeMills": c.ShortPollingTimeMills,
	} {
		if v <= 0 {
			return bad(key, v, "must be positive")
		}
	}
	if c.GCPercent < 10 || c.GCPercent > 10000 {
		return bad("gcPercent", c.GCPercent, "must be 10..10000 (percent of the live heap allocated between collections)")
	}
	if c.RegisterNameServerPeriod < 10000 || c.RegisterNameServerPeriod > 60000 {
		// RocketMQ clamps silently; Skiff clamps too, as operators copy RocketMQ files.
		c.RegisterNameServerPeriod = min(max(c.RegisterNameServerPeriod, 10000), 60000)
	}
	if c.FileReservedTime <= 0 {
		return bad("fileReservedTime", c.FileReservedTime, "must be a positive number of hours")
	}
	if c.AccessMessageInMemoryMaxRatio < 0 || c.AccessMessageInMemoryMaxRatio > 100 {
		return bad("accessMessageInMemoryMaxRatio", c.AccessMessageInMemoryMaxRatio, "must be 0..100")
	}
	if c.DiskMaxUsedSpaceRatio < 10 || c.DiskMaxUsedSpaceRatio > 95 {
		return bad("diskMaxUsedSpaceRatio", c.DiskMaxUsedSpaceRatio, "must be 10..95")
	}
	for _, h := range strings.Split(c.DeleteWhen, ";") {
		if n, err := strconv.Atoi(strings.TrimSpace(h)); err != nil || n < 0 || n > 23 {
			return bad("deleteWhen", c.DeleteWhen, "must be hours 00..23 separated by ';'")
		}
	}
	if _, err := ParseDelayLevels(c.MessageDelayLevel); err != nil {
		return fmt.Errorf("broker config: messageDelayLevel = %q: %w", c.MessageDelayLevel, err)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return bad("logLevel", c.LogLevel, "must be debug, info, warn or error")
	}
	return nil
}

// NamesrvAddrs returns the name server list.
func (c *Config) NamesrvAddrs() []string {
	addrs, _ := config.ParseAddrList(c.NamesrvAddr)
	return addrs
}

// BrokerAddr is the address registered with name servers and put in store hosts.
func (c *Config) BrokerAddr() string {
	return net.JoinHostPort(c.BrokerIP1, strconv.Itoa(c.ListenPort))
}

// HAServerAddr is the address slaves replicate from.
func (c *Config) HAServerAddr() string {
	return net.JoinHostPort(c.BrokerIP2, strconv.Itoa(c.HaListenPort))
}

// ControllerAddrs lists controllerAddr, or the name servers when it is empty.
func (c *Config) ControllerAddrs() []string {
	if strings.TrimSpace(c.ControllerAddr) == "" {
		return c.NamesrvAddrs()
	}
	addrs, _ := config.ParseAddrList(c.ControllerAddr) // checked by Validate
	return addrs
}

// IsMaster reports whether the broker has a master role.
func (c *Config) IsMaster() bool { return c.BrokerRole != RoleSlave }

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

// StoreConfig translates the store keys into the commit log's configuration.
func (c *Config) StoreConfig() commitlog.Config {
	s := commitlog.DefaultConfig(c.StorePathRootDir)
	s.FS = c.storeFS
	s.StorePathCommitLog = c.StorePathCommitLog
	s.MappedFileSizeCommitLog = c.MappedFileSizeCommitLog
	s.MappedFileSizeConsumeQueue = c.MappedFileSizeConsumeQueue
	s.FlushDiskType = c.FlushDiskType
	s.FlushIntervalCommitLog = ms(c.FlushIntervalCommitLog)
	s.FlushCommitLogLeastPages = c.FlushCommitLogLeastPages
	s.FlushCommitLogThoroughInterval = ms(c.FlushCommitLogThoroughInterval)
	s.FlushIntervalConsumeQueue = ms(c.FlushIntervalConsumeQueue)
	s.SyncFlushTimeout = ms(c.SyncFlushTimeout)
	s.MaxMessageSize = c.MaxMessageSize
	s.MessageIndexEnable = c.MessageIndexEnable
	s.MaxHashSlotNum = c.MaxHashSlotNum
	s.MaxIndexNum = c.MaxIndexNum
	s.FileReservedTime = time.Duration(c.FileReservedTime) * time.Hour
	s.DeleteWhen = c.DeleteWhen
	s.DiskMaxUsedSpaceRatio = c.DiskMaxUsedSpaceRatio
	s.CleanResourceInterval = ms(c.CleanResourceInterval)
	s.CheckCRCOnRecover = c.CheckCRCOnRecover
	s.MessageDelayLevel = c.MessageDelayLevel
	s.MaxTransferBytesOnMessageInMemory = c.MaxTransferBytesOnMessageInMemory
	s.MaxTransferCountOnMessageInMemory = c.MaxTransferCountOnMessageInMemory
	s.WarmMappedFile = c.WarmMapedFileEnable
	return s
}

// ParseDelayLevels parses "1s 5s 10s 30s 1m ..." into durations for levels 1..n (units s, m, h, d).
func ParseDelayLevels(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Fields(s) {
		if len(f) < 2 {
			return nil, fmt.Errorf("bad delay level %q", f)
		}
		n, err := strconv.ParseInt(f[:len(f)-1], 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad delay level %q", f)
		}
		var unit time.Duration
		switch f[len(f)-1] {
		case 's':
			unit = time.Second
		case 'm':
			unit = time.Minute
		case 'h':
			unit = time.Hour
		case 'd':
			unit = 24 * time.Hour
		default:
			return nil, fmt.Errorf("bad delay level unit in %q (use s, m, h or d)", f)
		}
		out = append(out, time.Duration(n)*unit)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no delay levels")
	}
	return out, nil
}

func firstNonLoopbackIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				if v4 := ipn.IP.To4(); v4 != nil {
					return v4.String()
				}
			}
		}
	}
	return "127.0.0.1"
}

// TLS server modes (tlsServerMode).
const (
	TLSDisabled   = security.TLSDisabled
	TLSPermissive = security.TLSPermissive
	TLSEnforcing  = security.TLSEnforcing
)

// validateSecurity checks the ACL, secret and TLS keys; errors name the key, never a secret.
func (c *Config) validateSecurity() error {
	if c.AclEnable && c.AclFile == "" {
		return fmt.Errorf("broker config: aclEnable = true needs aclFile")
	}
	if c.AclReloadInterval <= 0 {
		return fmt.Errorf("broker config: aclReloadInterval = %d: must be positive (ms)", c.AclReloadInterval)
	}
	if _, err := security.LoadSecret(c.ClusterSecret, c.ClusterSecretFile); err != nil {
		return fmt.Errorf("broker config: %w", err)
	}
	if (c.InnerAccessKey == "") != (c.InnerSecretKey == "") {
		return fmt.Errorf("broker config: innerAccessKey and innerSecretKey go together")
	}
	if err := security.CheckTLSMode(c.TLSServerMode, c.TLSServerCertPath, c.TLSServerKeyPath); err != nil {
		return fmt.Errorf("broker config: %w", err)
	}
	return nil
}

// secretKeys are printed as "******" by Properties.
var secretKeys = map[string]bool{"clusterSecret": true, "innerSecretKey": true}
