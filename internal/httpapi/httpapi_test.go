package httpapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
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

// TestHTTPAPIMounts: mounted handlers get every method under their prefix, the longest prefix
// wins, and built-in endpoints and API names are never shadowed.
func TestHTTPAPIMounts(t *testing.T) {
	mark := func(name string) Handler {
		return func(ctx *fasthttp.RequestCtx) { ctx.WriteString(name + " " + string(ctx.Method())) }
	}
	s, err := Start(Config{
		Addr: "127.0.0.1:0",
		API:  map[string]func(map[string]string) (any, error){"cluster": func(map[string]string) (any, error) { return "api", nil }},
		Mounts: Mounts{"/": mark("root"), "/ui/": mark("ui"), "/api/ui/": mark("apiui"), "/metrics": mark("shadow"),
			"/api/": mark("apiall")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	do := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+s.Addr()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/", "root GET"},
		{"GET", "/ui/topics", "ui GET"},
		{"POST", "/ui/action/x", "ui POST"},
		{"GET", "/api/ui/overview", "apiui GET"},
		{"GET", "/api/cluster", "\"api\"\n"},
		{"GET", "/api/other", "apiall GET"},
	} {
		if code, body := do(c.method, c.path); code != 200 || body != c.want {
			t.Errorf("%s %s = %d %q, want %q", c.method, c.path, code, body, c.want)
		}
	}
	if _, body := do("GET", "/metrics"); strings.Contains(body, "shadow") {
		t.Errorf("/metrics was shadowed by a mount")
	}
	if code, _ := do("GET", "/nothing"); code != 404 {
		// "/" is the root only, not a catch-all.
		t.Errorf("/nothing (only \"/\" exact) = %d, want 404", code)
	}
}
