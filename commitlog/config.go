package commitlog

import (
	"log/slog"

	"github.com/skiffmq/skiff/commitlog/vfs"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FS is the file-system seam (package vfs), re-exported so that the broker can pass one through
// without importing vfs.
type FS = vfs.FS

// Flush disk types.
const (
	AsyncFlush = "ASYNC_FLUSH"
	SyncFlush  = "SYNC_FLUSH"
)

// Config configures a Store. RocketMQ key names are given in comments; DefaultConfig fills every
// default.
type Config struct {
	StorePathRootDir                  string
	StorePathCommitLog                string        // storePathCommitLog, default <root>/commitlog
	MappedFileSizeCommitLog           int64         // 1 GiB
	MappedFileSizeConsumeQueue        int64         // 300000 entries × 20 bytes
	FlushDiskType                     string        // ASYNC_FLUSH | SYNC_FLUSH
	FlushIntervalCommitLog            time.Duration // 500 ms
	FlushCommitLogLeastPages          int           // 4
	FlushCommitLogThoroughInterval    time.Duration // 10 s
	SyncFlushTimeout                  time.Duration // 5 s
	FlushIntervalConsumeQueue         time.Duration // 1 s
	MaxMessageSize                    int           // 4 MiB
	MessageIndexEnable                bool          // true
	MaxHashSlotNum, MaxIndexNum       int
	FileReservedTime                  time.Duration // 72 h
	DeleteWhen                        string        // "04"
	DiskMaxUsedSpaceRatio             int           // 75
	CleanResourceInterval             time.Duration // 10 s
	CheckCRCOnRecover                 bool          // true
	MessageDelayLevel                 string        // "1s 5s 10s 30s 1m ..."
	MaxTransferBytesOnMessageInMemory int           // 256 KiB
	MaxTransferCountOnMessageInMemory int           // 32
	// WarmMappedFile (RocketMQ's warmMapedFileEnable) keeps the pages ahead of the write position
	// faulted in from a background goroutine, and creates the next segment before the writer
	// reaches it, so no page fault and no file creation land on the append path; a new
	// consume-queue file is faulted in whole when the dispatcher creates it. Default false.
	WarmMappedFile bool
	Logger         *slog.Logger
	OnFlush        func(time.Duration) // called after each msync pass with its duration (metrics)
	// Clock is the store's source of wall time (retention's deleteWhen hour and segment age);
	// nil means time.Now. Tests inject a fixed clock so that no result depends on today's date.
	Clock func() time.Time
	// FS is the file-system seam: every file operation of the store goes through it. nil means
	// vfs.Default (the operating system); tests pass vfs.NewMem (power loss) or vfs.NewErrorFS.
	FS vfs.FS
	// RecoverVerifyBytes is how much of the flushed log before the checkpoint is re-verified
	// (CRC) after a crash, on top of everything past the checkpoint; a bad record there is
	// corruption and the store refuses to open. Default 64 MiB; a clean stop verifies nothing.
	RecoverVerifyBytes int64
	// ackBeforeFlush breaks SYNC_FLUSH on purpose (tests only): the flusher hands the pending
	// completions to the answering goroutine before its msync instead of after it, so writes are
	// acknowledged before they are durable (PutMessages and PutMessagesThen alike); it shows that
	// the power-loss tests catch a store that acks early.
	ackBeforeFlush bool
}

// DefaultConfig returns the defaults for a store under root.
func DefaultConfig(root string) Config {
	return Config{
		StorePathRootDir: root, StorePathCommitLog: filepath.Join(root, "commitlog"),
		MappedFileSizeCommitLog: 1 << 30, MappedFileSizeConsumeQueue: 300000 * cqEntrySize,
		FlushDiskType: AsyncFlush, FlushIntervalCommitLog: 500 * time.Millisecond, FlushCommitLogLeastPages: 4,
		FlushCommitLogThoroughInterval: 10 * time.Second, SyncFlushTimeout: 5 * time.Second,
		FlushIntervalConsumeQueue: time.Second, MaxMessageSize: 4 << 20, MessageIndexEnable: true,
		MaxHashSlotNum: 5000000, MaxIndexNum: 20000000, FileReservedTime: 72 * time.Hour, DeleteWhen: "04",
		DiskMaxUsedSpaceRatio: 75, CleanResourceInterval: 10 * time.Second, CheckCRCOnRecover: true,
		MessageDelayLevel:                 "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h",
		MaxTransferBytesOnMessageInMemory: 256 << 10, MaxTransferCountOnMessageInMemory: 32,
	}
}

// fillDefaults replaces zero or invalid values with DefaultConfig's.
func (c *Config) fillDefaults() {
	def := DefaultConfig(c.StorePathRootDir)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	positive(&c.RecoverVerifyBytes, 64<<20)
	if c.StorePathCommitLog == "" {
		c.StorePathCommitLog = def.StorePathCommitLog
	}
	if c.MessageDelayLevel == "" {
		c.MessageDelayLevel = def.MessageDelayLevel
	}
	if c.MappedFileSizeConsumeQueue%cqEntrySize != 0 {
		c.MappedFileSizeConsumeQueue = 0
	}
	positive(&c.MappedFileSizeCommitLog, def.MappedFileSizeCommitLog)
	positive(&c.MappedFileSizeConsumeQueue, def.MappedFileSizeConsumeQueue)
	positive(&c.FlushIntervalCommitLog, def.FlushIntervalCommitLog)
	positive(&c.SyncFlushTimeout, def.SyncFlushTimeout)
	positive(&c.FlushCommitLogThoroughInterval, def.FlushCommitLogThoroughInterval)
	positive(&c.FlushIntervalConsumeQueue, def.FlushIntervalConsumeQueue)
	positive(&c.MaxMessageSize, def.MaxMessageSize)
	positive(&c.MaxTransferBytesOnMessageInMemory, def.MaxTransferBytesOnMessageInMemory)
	positive(&c.MaxTransferCountOnMessageInMemory, def.MaxTransferCountOnMessageInMemory)
	positive(&c.CleanResourceInterval, def.CleanResourceInterval)
	positive(&c.FileReservedTime, def.FileReservedTime)
	positive(&c.DiskMaxUsedSpaceRatio, def.DiskMaxUsedSpaceRatio)
}

// positive sets *v to d unless it is positive.
func positive[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// delayLevels parses MessageDelayLevel into milliseconds per level (1-based index - 1).
func delayLevels(s string) []int64 {
	var out []int64
	for _, f := range strings.Fields(s) {
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseInt(f[:len(f)-1], 10, 64)
		if err != nil {
			continue
		}
		unit := map[byte]int64{'s': 1000, 'm': 60000, 'h': 3600000, 'd': 86400000}[f[len(f)-1]]
		out = append(out, n*unit)
	}
	return out
}
