package server

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

func TestServerAuthorizeRefusesBeforeTheHandler(t *testing.T) {
	var handled atomic.Int32
	cfg := Config{Authorize: func(c *Conn, req *remoting.Command) (int32, string, bool) {
		if req.ExtFields["v"] == "deny" {
			return remoting.NoPermission, "refused for " + c.RemoteAddr(), false
		}
		return 0, "", true
	}}
	f := startServer(t, cfg, func(s *Server) {
		s.Handle(codeEcho, PoolClient, func(ctx context.Context, c *Conn, req *remoting.Command) *remoting.Command {
			handled.Add(1)
			return echo(ctx, c, req)
		})
	})
	resp := invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, map[string]string{"v": "deny"}, nil))
	if resp.Code != remoting.NoPermission || resp.Remark == "" {
		t.Fatalf("refused request answered %d %q", resp.Code, resp.Remark)
	}
	if handled.Load() != 0 {
		t.Fatal("the handler ran for a refused request")
	}
	resp = invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, map[string]string{"v": "ok"}, nil))
	if resp.Code != remoting.Success || resp.ExtFields["echo"] != "ok" || handled.Load() != 1 {
		t.Fatalf("allowed request: %d %v handled=%d", resp.Code, resp.ExtFields, handled.Load())
	}
}
