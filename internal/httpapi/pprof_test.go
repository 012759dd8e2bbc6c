package httpapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// nonLoopbackIP returns an IPv4 address of this host that is not loopback, "" when there is none.
func nonLoopbackIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

func TestHTTPAPIPprofLoopbackOnly(t *testing.T) {
	for _, remote := range []bool{false, true} {
		s, err := Start(Config{Addr: "0.0.0.0:0", PprofRemote: remote})
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(s.Addr())
		get := func(host, path string) (int, string) {
			resp, err := http.Get("http://" + net.JoinHostPort(host, port) + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if c, b := get("127.0.0.1", "/debug/pprof/goroutine?debug=1"); c != 200 || !strings.Contains(b, "goroutine profile") {
			t.Fatalf("loopback /debug/pprof/goroutine = %d %.80q", c, b)
		}
		if c, b := get("127.0.0.1", "/debug/pprof/"); c != 200 || !strings.Contains(b, "heap") {
			t.Fatalf("loopback /debug/pprof/ = %d %.80q", c, b)
		}
		if ip := nonLoopbackIP(); ip != "" {
			c, _ := get(ip, "/debug/pprof/goroutine?debug=1")
			if want := map[bool]int{false: 403, true: 200}[remote]; c != want {
				t.Fatalf("PprofRemote=%v: /debug/pprof from %s = %d, want %d", remote, ip, c, want)
			}
		} else {
			t.Log("no non-loopback address: the remote refusal is not exercised")
		}
		_ = s.Shutdown(context.Background())
	}
}
