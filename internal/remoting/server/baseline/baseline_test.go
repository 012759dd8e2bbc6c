package baseline

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
)

// TestBaselineAnswersBothSerializations: a send gets the fixed SEND_OK and a route request the
// route body, in the request's header form (JSON from the official client, binary from the SDK).
func TestBaselineAnswersBothSerializations(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	s, err := Start(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	for _, st := range []byte{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		c := rpc.New(rpc.Config{Serialize: st})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := c.Invoke(ctx, addr, remoting.NewRequest(remoting.SendMessageV2, map[string]string{"b": "T"}, []byte("x")))
		if err != nil || resp.Code != remoting.Success || resp.SerializeType != st || resp.ExtFields["queueOffset"] != "0" || resp.ExtFields["msgId"] == "" {
			t.Fatalf("serialize %d: send answer %+v, %v", st, resp, err)
		}
		resp, err = c.Invoke(ctx, addr, remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil))
		if err != nil || resp.Code != remoting.Success || len(resp.Body) == 0 {
			t.Fatalf("serialize %d: route answer %+v, %v", st, resp, err)
		}
		cancel()
		_ = c.Close()
	}
}
