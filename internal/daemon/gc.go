package daemon

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// SetGCPercent sets the Go garbage collector's target (the GOGC percentage) to percent, unless the
// GOGC environment variable is set: an operator's explicit GOGC wins and is only logged. It returns
// the percentage in force afterwards (for GOGC=off, -1).
//
// A broker allocates a little per message on a small live heap, so with Go's default of 100 the
// collector runs many times a second; a higher target trades a few tens of MiB of heap for fewer
// cycles (docs/performance.md measures it).
func SetGCPercent(percent int, log *slog.Logger) int {
	if env, ok := os.LookupEnv("GOGC"); ok && env != "" {
		cur := debug.SetGCPercent(100)
		debug.SetGCPercent(cur)
		log.Info("gc target from the GOGC environment variable; gcPercent ignored", "GOGC", env, "gcPercent", percent)
		return cur
	}
	debug.SetGCPercent(percent)
	return percent
}
