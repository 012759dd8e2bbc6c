package namesrv

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestNamesrvHTTPSurface(t *testing.T) {
	// The HTTP port is picked free and bound later; if another process takes it in between,
	// Start fails with "address already in use" and is tried again on a fresh port.
	var s *Server
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cfg := DefaultConfig()
		cfg.ListenPort = 0
		cfg.BindAddress = "127.0.0.1"
		cfg.KvConfigPath = filepath.Join(t.TempDir(), "kv.json")
		cfg.HTTPPort = port
		if s, err = New(cfg, nil); err != nil {
			t.Fatal(err)
		}
		if err = s.Start(); err == nil {
			break
		}
		_ = s.Shutdown(context.Background())
		if attempt >= 5 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("HTTP port %d was taken before the server bound it; retrying", port)
	}
	defer s.Shutdown(context.Background())
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.http.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, _ := get("/readyz"); c != 200 {
		t.Fatalf("/readyz = %d", c)
	}
	if c, b := get("/metrics"); c != 200 || !strings.Contains(b, "skiff_namesrv_registered_brokers 0") {
		t.Fatalf("/metrics = %d %s", c, b)
	}
	if c, b := get("/api/cluster"); c != 200 || !strings.Contains(b, "brokerAddrTable") {
		t.Fatalf("/api/cluster = %d %s", c, b)
	}
	if c, b := get("/api/route?topic=Nope"); c != 400 || !strings.Contains(b, "Nope") {
		t.Fatalf("/api/route of an unknown topic = %d %s", c, b)
	}
}
