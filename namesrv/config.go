package namesrv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skiffmq/skiff/internal/config"
	"github.com/skiffmq/skiff/internal/daemon"
	"github.com/skiffmq/skiff/internal/httpapi"
	"github.com/skiffmq/skiff/internal/security"
	"github.com/skiffmq/skiff/namesrv/controller"
)

// Config is the name server configuration. TOML keys are RocketMQ's NamesrvConfig and
// NettyServerConfig field names; keys marked "Skiff" have no RocketMQ counterpart. Durations are
// integers in milliseconds, as in RocketMQ.
type Config struct {
	// ListenPort is the TCP port (listenPort, default 9876). 0 picks a free port (tests).
	ListenPort int `toml:"listenPort"`
	// BindAddress is the address to listen on (Skiff addition; RocketMQ always binds every
	// interface). Default "0.0.0.0".
	BindAddress string `toml:"bindAddress"`
	// HTTPBindAddress is the address of the HTTP listener (Skiff, default: bindAddress).
	HTTPBindAddress string `toml:"httpBindAddress"`
	// KvConfigPath is the KV config file (kvConfigPath, default ~/namesrv/kvConfig.json). The name
	// server's log goes to <dir of kvConfigPath>/logs/namesrv.log.
	KvConfigPath string `toml:"kvConfigPath"`
	// OrderMessageEnable fills orderTopicConf in routes from the KV namespace ORDER_TOPIC_CONFIG
	// (orderMessageEnable, default false).
	OrderMessageEnable bool `toml:"orderMessageEnable"`
	// ScanNotActiveBrokerInterval is the period of the expiry scan in ms
	// (scanNotActiveBrokerInterval, default 10000).
	ScanNotActiveBrokerInterval int64 `toml:"scanNotActiveBrokerInterval"`
	// BrokerChannelExpiredTime is how long a broker may go without registering before it is
	// removed, in ms (Skiff addition: RocketMQ's constant BROKER_CHANNEL_EXPIRED_TIME, default
	// 120000; tests shorten it).
	BrokerChannelExpiredTime int64 `toml:"brokerChannelExpiredTime"`
	// ServerWorkerThreads is the number of goroutines serving requests (serverWorkerThreads,
	// default 8).
	ServerWorkerThreads int `toml:"serverWorkerThreads"`
	// LogLevel is debug, info, warn or error (Skiff addition, default "info").
	LogLevel string `toml:"logLevel"`

	// HTTPPort (Skiff) serves /healthz, /readyz, /metrics and a read-only JSON API
	// (/api/cluster, /api/topics, /api/route?topic=T); 0 (the default) turns it off.
	HTTPPort int `toml:"httpPort"`
	// DashboardSampleInterval is how often the dashboard on the HTTP port samples every broker's
	// runtime info for its charts, in ms (Skiff addition, default 10000; the charts keep an hour).
	DashboardSampleInterval int64 `toml:"dashboardSampleInterval"`
	// DebugPprofRemote (Skiff) serves /debug/pprof on the HTTP port to non-loopback clients too;
	// by default only 127.0.0.1 and ::1 get the profiles.
	DebugPprofRemote bool `toml:"debugPprofRemote"`

	// EnableControllerInNamesrv runs the failover controller in this name server
	// (enableControllerInNamesrv, default false). Without it the name server is stateless.
	EnableControllerInNamesrv bool `toml:"enableControllerInNamesrv"`
	// ControllerPeers lists the controller group's Raft addresses as id-host:port separated by
	// ";" (controllerPeers, e.g. "n0-127.0.0.1:9878;n1-127.0.0.1:9868;n2-127.0.0.1:9858").
	ControllerPeers string `toml:"controllerPeers"`
	// ControllerSelfID is this node's id in controllerPeers (controllerSelfId).
	ControllerSelfID string `toml:"controllerSelfId"`
	// ControllerStorePath holds the Raft log and snapshots (controllerStorePath, default
	// <dir of kvConfigPath>/controller).
	ControllerStorePath string `toml:"controllerStorePath"`
	// ControllerHeartBeatTimeoutMills is how long a broker may go without a heartbeat before the
	// controller treats it as dead, in ms (controllerHeartBeatTimeoutMills, default 10000).
	ControllerHeartBeatTimeoutMills int64 `toml:"controllerHeartBeatTimeoutMills"`
	// EnableElectUncleanMaster lets the controller elect a replica outside the SyncStateSet when
	// no member is alive, which may lose acknowledged messages (enableElectUncleanMaster, default false).
	EnableElectUncleanMaster bool `toml:"enableElectUncleanMaster"`
	// NotifyBrokerRoleChanged pushes a new master to the set's brokers at once; they also poll
	// with their heartbeats (notifyBrokerRoleChanged, default true).
	NotifyBrokerRoleChanged bool `toml:"notifyBrokerRoleChanged"`
	// AclEnable checks client requests against a RocketMQ plain_acl.yml (aclEnable, default
	// false); admin codes (topic deletion, permission and KV changes, broker registration without
	// a clusterSecret) need an admin account.
	AclEnable bool `toml:"aclEnable"`
	// AclFile is the plain_acl.yml (Skiff, default conf/plain_acl.yml).
	AclFile string `toml:"aclFile"`
	// AclReloadInterval is how often (ms) AclFile is checked for changes (Skiff, default 1000).
	AclReloadInterval int `toml:"aclReloadInterval"`
	// ClusterSecret (Skiff), at least 16 bytes, makes brokers prove it when they register; ""
	// accepts any broker. ClusterSecretFile reads it from a file instead. Never logged.
	ClusterSecret     string `toml:"clusterSecret"`
	ClusterSecretFile string `toml:"clusterSecretFile"`
	// InnerAccessKey / InnerSecretKey (Skiff) are the ACL credentials (an admin account) the name
	// server's dashboard reads and acts with when the brokers run with aclEnable.
	InnerAccessKey string `toml:"innerAccessKey"`
	InnerSecretKey string `toml:"innerSecretKey"`
	// TLSServerMode is disabled (default), permissive (TLS and plain TCP) or enforcing (TLS only),
	// with the PEM certificate chain and key of the listener.
	TLSServerMode     string `toml:"tlsServerMode"`
	TLSServerCertPath string `toml:"tlsServerCertPath"`
	TLSServerKeyPath  string `toml:"tlsServerKeyPath"`

	// Now is the clock of the route table (tests); nil means time.Now. Not read from TOML.
	Now func() time.Time `toml:"-"`
	// HTTPMounts are extra handlers served on the HTTP port under path prefixes (cmd/mqnamesrv
	// mounts the dashboard here); ignored when HTTPPort is 0. Not read from TOML.
	HTTPMounts httpapi.Mounts `toml:"-"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		ListenPort:                  9876,
		BindAddress:                 "0.0.0.0",
		KvConfigPath:                filepath.Join(homeDir(), "namesrv", "kvConfig.json"),
		OrderMessageEnable:          false,
		ScanNotActiveBrokerInterval: 10000,
		BrokerChannelExpiredTime:    120000,
		ServerWorkerThreads:         8,
		LogLevel:                    "info",
		DashboardSampleInterval:     10000,

		ControllerHeartBeatTimeoutMills: 10000,
		NotifyBrokerRoleChanged:         true,
		AclFile:                         "conf/plain_acl.yml",
		AclReloadInterval:               1000,
		TLSServerMode:                   security.TLSDisabled,
	}
}

// LoadConfig reads a TOML file over the defaults (strict: unknown keys are refused) and validates
// the result. An empty path gives the defaults.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, cfg.Validate()
	}
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, err
	}
	cfg.KvConfigPath = expandHome(cfg.KvConfigPath)
	return cfg, nil
}

// Validate checks every value and returns an error naming the first bad key and its value.
func (c *Config) Validate() error {
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		return fmt.Errorf("namesrv: listenPort = %d: must be in 0..65535", c.ListenPort)
	}
	if c.HTTPPort < 0 || c.HTTPPort > 65535 || (c.HTTPPort != 0 && c.HTTPPort == c.ListenPort) {
		return fmt.Errorf("namesrv: httpPort = %d: must be 0 (off) or a port in 1..65535 other than listenPort", c.HTTPPort)
	}
	if err := config.CheckBindAddress(c.BindAddress); err != nil {
		return fmt.Errorf("namesrv: bindAddress = %q: %w", c.BindAddress, err)
	}
	if c.HTTPBindAddress == "" {
		c.HTTPBindAddress = c.BindAddress
	}
	if err := config.CheckBindAddress(c.HTTPBindAddress); err != nil {
		return fmt.Errorf("namesrv: httpBindAddress = %q: %w", c.HTTPBindAddress, err)
	}
	if strings.TrimSpace(c.KvConfigPath) == "" {
		return fmt.Errorf("namesrv: kvConfigPath = %q: must not be empty", c.KvConfigPath)
	}
	if c.ScanNotActiveBrokerInterval <= 0 {
		return fmt.Errorf("namesrv: scanNotActiveBrokerInterval = %d: must be > 0 (ms)", c.ScanNotActiveBrokerInterval)
	}
	if c.BrokerChannelExpiredTime <= 0 {
		return fmt.Errorf("namesrv: brokerChannelExpiredTime = %d: must be > 0 (ms)", c.BrokerChannelExpiredTime)
	}
	if c.ServerWorkerThreads < 1 || c.ServerWorkerThreads > 1024 {
		return fmt.Errorf("namesrv: serverWorkerThreads = %d: must be in 1..1024", c.ServerWorkerThreads)
	}
	if c.EnableControllerInNamesrv {
		peers, err := controller.ParsePeers(c.ControllerPeers)
		if err != nil {
			return fmt.Errorf("namesrv: controllerPeers = %q: %w", c.ControllerPeers, err)
		}
		found := false
		for _, p := range peers {
			found = found || p.ID == c.ControllerSelfID
		}
		if !found {
			return fmt.Errorf("namesrv: controllerSelfId = %q: not an id in controllerPeers %q", c.ControllerSelfID, c.ControllerPeers)
		}
	}
	if c.ControllerHeartBeatTimeoutMills < 100 {
		return fmt.Errorf("namesrv: controllerHeartBeatTimeoutMills = %d: must be ≥ 100 (ms)", c.ControllerHeartBeatTimeoutMills)
	}
	if c.AclEnable && c.AclFile == "" {
		return fmt.Errorf("namesrv: aclEnable = true needs aclFile")
	}
	if c.AclReloadInterval <= 0 {
		return fmt.Errorf("namesrv: aclReloadInterval = %d: must be positive (ms)", c.AclReloadInterval)
	}
	if _, err := security.LoadSecret(c.ClusterSecret, c.ClusterSecretFile); err != nil {
		return fmt.Errorf("namesrv: %w", err)
	}
	if (c.InnerAccessKey == "") != (c.InnerSecretKey == "") {
		return fmt.Errorf("namesrv: innerAccessKey and innerSecretKey go together")
	}
	if c.TLSServerMode == "" {
		c.TLSServerMode = security.TLSDisabled
	}
	if err := security.CheckTLSMode(c.TLSServerMode, c.TLSServerCertPath, c.TLSServerKeyPath); err != nil {
		return fmt.Errorf("namesrv: %w", err)
	}
	if _, err := daemon.ParseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("namesrv: logLevel = %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.DashboardSampleInterval < 100 || c.DashboardSampleInterval > 3_600_000 {
		return fmt.Errorf("namesrv: dashboardSampleInterval = %d: must be in 100..3600000 (ms)", c.DashboardSampleInterval)
	}
	return nil
}

// ListenAddr is BindAddress:ListenPort.
func (c *Config) ListenAddr() string {
	return net.JoinHostPort(c.BindAddress, fmt.Sprint(c.ListenPort))
}

// ControllerDir is controllerStorePath, or <dir of kvConfigPath>/controller when it is empty.
func (c *Config) ControllerDir() string {
	if c.ControllerStorePath != "" {
		return expandHome(c.ControllerStorePath)
	}
	return filepath.Join(filepath.Dir(expandHome(c.KvConfigPath)), "controller")
}

// LogFile is <dir of KvConfigPath>/logs/namesrv.log.
func (c *Config) LogFile() string {
	return filepath.Join(filepath.Dir(expandHome(c.KvConfigPath)), "logs", "namesrv.log")
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "."
}

// expandHome replaces a leading "~/" with the home folder.
func expandHome(p string) string {
	if p == "~" {
		return homeDir()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}
