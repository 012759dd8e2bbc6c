package server

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

func TestServerAuthorizerRefusesBeforeHandler(t *testing.T) {
	var mu sync.Mutex
	var seen []remoting.ExtField
	var handled int
	f := startServer(t, Config{}, func(s *Server) {
		s.HandleRaw(codeEcho, PoolClient, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			mu.Lock()
			handled++
			mu.Unlock()
			return remoting.NewResponse(req, remoting.Success, "")
		})
		s.SetAuthorizer(func(_ *Conn, req *remoting.Command) *remoting.Command {
			mu.Lock()
			seen = req.ExtList()
			mu.Unlock()
			if req.ExtValue("AccessKey") != "good" {
				return remoting.NewResponse(req, 16, "no permission for "+req.ExtValue("AccessKey"))
			}
			return nil
		})
	})
	bad := invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, map[string]string{"AccessKey": "bad", "Signature": "s", "zz": "unknown"}, nil))
	if bad.Code != 16 || bad.Remark != "no permission for bad" {
		t.Fatalf("refused response %+v", bad)
	}
	mu.Lock()
	if handled != 0 {
		t.Fatal("the handler ran for a refused request")
	}
	want := "[{AccessKey bad} {Signature s} {zz unknown}]"
	if got := fmt.Sprint(seen); got != want {
		t.Fatalf("authorizer saw %s, want every raw ext field %s", got, want)
	}
	mu.Unlock()
	ok := invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, map[string]string{"AccessKey": "good"}, nil))
	if ok.Code != remoting.Success {
		t.Fatalf("allowed response %+v", ok)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled != 1 {
		t.Fatalf("handled %d, want 1", handled)
	}
}

func TestServerHandleRawKeepsHeaderAsList(t *testing.T) {
	f := startServer(t, Config{}, func(s *Server) {
		s.HandleRaw(codeEcho, PoolClient, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			resp := remoting.NewResponseList(req, remoting.Success, "")
			if req.ExtFields != nil {
				resp.Remark = "map built"
			}
			return resp.AddExt("echo", req.ExtValue("v")).AddExt("n", strconv.Itoa(req.ExtLen()))
		})
		s.Handle(codeSlow, PoolClient, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
			resp := remoting.NewResponse(req, remoting.Success, "")
			resp.ExtFields["echo"] = req.ExtFields["v"] // Handle gets the map
			return resp
		})
	})
	resp := invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeEcho, map[string]string{"v": "x", "w": "y"}, nil))
	if resp.Remark != "" || resp.ExtFields["echo"] != "x" || resp.ExtFields["n"] != "2" {
		t.Fatalf("raw handler response %+v", resp)
	}
	resp = invoke(t, f.cli, f.srv.Addr(), remoting.NewRequest(codeSlow, map[string]string{"v": "m"}, nil))
	if resp.ExtFields["echo"] != "m" {
		t.Fatalf("map handler response %+v", resp)
	}
}

// Many concurrent requests on one connection: every response arrives whole and matched, while
// the server coalesces them into fewer socket writes (not asserted: it depends on timing).
func TestServerCoalescedResponsesStayWhole(t *testing.T) {
	f := startServer(t, Config{}, func(s *Server) { s.Handle(codeEcho, PoolClient, echo) })
	const n = 2000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		wg.Add(1)
		v := strconv.Itoa(i)
		body := make([]byte, i%3000)
		err := f.cli.InvokeAsync(ctx, f.srv.Addr(), remoting.NewRequest(codeEcho, map[string]string{"v": v}, body), func(r *remoting.Command, err error) {
			defer wg.Done()
			if err != nil {
				errs <- err
				return
			}
			if r.ExtFields["echo"] != v || len(r.Body) != len(body) {
				errs <- fmt.Errorf("request %s got echo %q body %d", v, r.ExtFields["echo"], len(r.Body))
			}
		})
		if err != nil {
			wg.Done()
			errs <- err
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d responses in %d socket writes", n, f.srv.Writes())
}
