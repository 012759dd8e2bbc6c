package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// TestGoroutineProbeCounts: the probe counts every goroutine group of a debug=1 profile, the
// first one (after the "total" line) included, and the ones parked in the HA ack wait.
func TestGoroutineProbeCounts(t *testing.T) {
	const profile = "goroutine profile: total 175\n" +
		"128 @ 0x48d4ae 0x469ac5\n#\t0x6b5d65\tgithub.com/skiffmq/skiff/broker/ha.(*Master).WaitAck+0x185\t/x/master.go:374\n" +
		"#\t0x7d7ea4\tgithub.com/skiffmq/skiff/internal/remoting/server.(*pool).start.func1+0xa4\t/x/pool.go:50\n\n" +
		"44 @ 0x48d4ae 0x41c66e\n#\t0x7d7eb3\tgithub.com/skiffmq/skiff/internal/remoting/server.(*pool).start.func1+0xb3\t/x/pool.go:49\n\n" +
		"3 @ 0x48d4ae\n#\t0x48c684\tinternal/poll.runtime_pollWait+0x84\t/x/netpoll.go:351\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(profile)) }))
	defer srv.Close()
	got := goroutineProbe(srv.URL, filepath.Join(t.TempDir(), "g.txt"))
	if want := "goroutines 175, parked in ha.(*Master).WaitAck 128"; got != want {
		t.Fatalf("probe = %q, want %q", got, want)
	}
}
