package daemon

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestSetGCPercentAppliesTheConfiguredTarget(t *testing.T) {
	t.Setenv("GOGC", "")
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if got := SetGCPercent(400, log); got != 400 {
		t.Fatalf("SetGCPercent(400) = %d, want 400", got)
	}
	if cur := debug.SetGCPercent(100); cur != 400 {
		t.Fatalf("runtime GC percent = %d after SetGCPercent(400), want 400", cur)
	}
}

func TestSetGCPercentLeavesAnExplicitGOGCAlone(t *testing.T) {
	t.Setenv("GOGC", "150")
	prev := debug.SetGCPercent(150) // what the runtime read from GOGC at start-up
	defer debug.SetGCPercent(prev)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if got := SetGCPercent(400, log); got != 150 {
		t.Fatalf("SetGCPercent(400) with GOGC=150 = %d, want 150 (the environment wins)", got)
	}
	if cur := debug.SetGCPercent(150); cur != 150 {
		t.Fatalf("runtime GC percent = %d, want 150 left alone", cur)
	}
}
