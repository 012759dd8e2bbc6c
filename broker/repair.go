package broker

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/daemon"
)

// RepairStore runs commitlog.Repair on the broker's store (which must not be in use: the store
// folder is locked while it runs) and returns a summary for the operator. It is what
// `mqbroker --repair-store` does after the broker refused to start because of a corrupt record:
// damaged segments are moved to <storePathRootDir>/damaged/ unchanged, and copies in which every
// unreadable byte range is replaced by a filler record take their place, so every readable
// message is kept at its offset.
func RepairStore(cfg Config, log *slog.Logger) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	unlock, err := daemon.LockDir(cfg.StorePathRootDir)
	if err != nil {
		return "", fmt.Errorf("broker: %w", err)
	}
	defer unlock()
	sc := cfg.StoreConfig()
	sc.Logger = log
	rep, err := commitlog.Repair(sc)
	if err != nil {
		return "", fmt.Errorf("broker: repair store %s: %w", cfg.StorePathRootDir, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scanned %d segments (%d bytes), kept %d records\n", rep.Segments, rep.ScannedBytes, rep.Records)
	if len(rep.Damaged) == 0 {
		b.WriteString("no damaged records found; nothing changed\n")
		return b.String(), nil
	}
	for _, d := range rep.Damaged {
		fmt.Fprintf(&b, "damaged: %s offsets [%d, %d) (%d bytes) replaced by a filler\n", d.Segment, d.From, d.To, d.To-d.From)
	}
	for _, p := range rep.SetAside {
		fmt.Fprintf(&b, "original kept at %s\n", p)
	}
	fmt.Fprintf(&b, "%d bytes unreadable in total; start the broker normally now\n", rep.DamagedBytes)
	return b.String(), nil
}
