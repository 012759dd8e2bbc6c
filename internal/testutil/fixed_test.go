package testutil

import (
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// TestFixedServerAnswersByCode: a request gets the frame given for its code with its own opaque;
// other codes get an empty SUCCESS.
func TestFixedServerAnswersByCode(t *testing.T) {
	s := NewFixedServer(t, func(addr string) map[int32]*remoting.Command {
		r := remoting.NewResponse(&remoting.Command{}, remoting.Success, "")
		r.Body = []byte("route of " + addr)
		return map[int32]*remoting.Command{remoting.GetRouteInfoByTopic: r}
	})
	for _, tc := range []struct {
		code int32
		body string
	}{{remoting.GetRouteInfoByTopic, "route of " + s.Addr()}, {remoting.SendMessage, ""}} {
		req := remoting.NewRequest(tc.code, map[string]string{"topic": "T"}, nil)
		req.SerializeType = remoting.SerializeRocketMQ
		resp, err := Call(s.Addr(), req, 5*time.Second)
		if err != nil {
			t.Fatalf("code %d: %v", tc.code, err)
		}
		if resp.Opaque != req.Opaque || resp.Code != remoting.Success || string(resp.Body) != tc.body {
			t.Fatalf("code %d: answer opaque %d code %d body %q, want opaque %d body %q", tc.code, resp.Opaque, resp.Code, resp.Body, req.Opaque, tc.body)
		}
	}
}
