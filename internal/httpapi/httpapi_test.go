package httpapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func TestHTTPAPIRoutesAndPanicGuard(t *testing.T) {
	var ready atomic.Bool
	s, err := Start(Config{
		Addr:    "127.0.0.1:0",
		Ready:   ready.Load,
		Metrics: func(w io.Writer) { io.WriteString(w, "x_total 1\n") },
		API: map[string]func(map[string]string) (any, error){
			"echo": func(a map[string]string) (any, error) { return a, nil },
			"boom": func(map[string]string) (any, error) { panic("boom") },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, _ := get("/readyz"); c != 503 {
		t.Fatalf("/readyz = %d before ready", c)
	}
	ready.Store(true)
	if c, _ := get("/readyz"); c != 200 {
		t.Fatalf("/readyz = %d when ready", c)
	}
	if c, b := get("/metrics"); c != 200 || b != "x_total 1\n" {
		t.Fatalf("/metrics = %d %q", c, b)
	}
	if c, b := get("/api/echo?group=g1"); c != 200 || !strings.Contains(b, `"group":"g1"`) {
		t.Fatalf("/api/echo = %d %q", c, b)
	}
	if c, _ := get("/api/boom"); c != 500 {
		t.Fatalf("panicking handler = %d, want 500", c)
	}
	if c, _ := get("/healthz"); c != 200 {
		t.Fatal("server unusable after a handler panic")
	}
}
