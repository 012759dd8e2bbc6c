package server

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

func TestServerAuthorizeRefusesBeforeTheHandler(t *testing.T) {
	var handled atomic.Int32
	f := startServer(t, Config{}, func(s *Server) {
		s.SetAuthorizer(func(c *Conn, req *remoting.Command) *remoting.Command {
			if req.ExtFields["v"] == "deny" {
				return remoting.NewResponse(req, remoting.NoPermission, "refused for "+c.RemoteAddr())
			}
			return nil
		})
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
