package broker

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffmq/skiff/commitlog/vfs"
	"github.com/skiffmq/skiff/internal/remoting"
)

// TestBrokerFlushErrorIsVisibleAndSticks: after an msync fails, SYNC_FLUSH sends answer
// FLUSH_DISK_TIMEOUT or are refused with a remark naming the error, /readyz answers 503 with the
// reason, the flush-error metric counts it, pulls keep working, and a disk that works again does
// not make the broker writeable behind the operator's back.
func TestBrokerFlushErrorIsVisibleAndSticks(t *testing.T) {
	efs := vfs.NewErrorFS(vfs.Default, nil)
	tb := startBroker(t, func(c *Config) { c.HTTPPort = 0; c.FlushDiskType = SyncFlush; c.storeFS = efs })
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + tb.b.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tb.b.registered.Store(true) // no name server in this test: readiness hinges on the store
	if code, body := get("/readyz"); code != 200 {
		t.Fatalf("/readyz of a healthy broker = %d %q", code, body)
	}
	for i := 0; i < 3; i++ {
		if r := tb.send(t, "FE", 0, "", "", "before"); r.Code != remoting.Success {
			t.Fatalf("send %d: %d %s", i, r.Code, r.Remark)
		}
	}
	var failing atomic.Bool
	failing.Store(true)
	efs.SetInjector(func(op vfs.Op, path string) error {
		if op == vfs.OpMsync && strings.Contains(path, "commitlog") && failing.Load() {
			return unix.EIO
		}
		return nil
	})
	r := tb.send(t, "FE", 0, "", "", "during")
	if r.Code != remoting.FlushDiskTimeout && r.Code != remoting.ServiceNotAvailable {
		t.Fatalf("send whose flush failed: code %d %q", r.Code, r.Remark)
	}
	failing.Store(false)
	r = tb.send(t, "FE", 0, "", "", "after")
	if r.Code == remoting.Success || !strings.Contains(r.Remark, "input/output error") {
		t.Fatalf("send after a flush error: code %d remark %q, want a refusal naming the error", r.Code, r.Remark)
	}
	code, body := get("/readyz")
	if code != 503 || !strings.Contains(body, "flush failed") || !strings.Contains(body, "input/output error") {
		t.Fatalf("/readyz after a flush error = %d %q", code, body)
	}
	if _, m := get("/metrics"); !strings.Contains(m, "skiff_store_flush_failed 1") || strings.Contains(m, "skiff_store_flush_errors 0\n") ||
		!strings.Contains(m, "skiff_store_recovery_seconds ") {
		t.Fatalf("/metrics does not show the flush error")
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"FE": "*"})
	p := tb.call(t, remoting.PullMessage, pullExt("cg", "FE", 0, 0, 0x2, 1000, ""), nil, 5*time.Second)
	if n := len(decodeBody(t, p.Body)); n < 3 {
		t.Fatalf("pull after a flush error: %d messages (code %d)", n, p.Code)
	}
	// Shutdown says the store could not be flushed (and leaves it to crash recovery).
	if err := tb.b.Shutdown(context.Background()); err == nil || !strings.Contains(err.Error(), "flush failed") {
		t.Fatalf("shutdown after a flush error: %v", err)
	}
}
