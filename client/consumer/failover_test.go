package consumer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// A pull refused with SERVICE_NOT_AVAILABLE (a deposed master) or dropped asks for the route at
// once; when the route now names another master, the error says so (the pull loop retries at
// once instead of after its retry delay), and the next pull goes to the new master.
func TestPullRefusedRefreshesRoute(t *testing.T) {
	ns, old, next := testutil.NewFakeServer(t), testutil.NewFakeServer(t), testutil.NewFakeServer(t)
	var master atomic.Value
	master.Store(old.Addr())
	ns.HandleFunc(remoting.GetRouteInfoByTopic, func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, remoting.Success, "")
		r.Body = []byte(`{"queueDatas":[{"brokerName":"b1","readQueueNums":1,"writeQueueNums":1,"perm":6,"topicSysFlag":0}],` +
			`"brokerDatas":[{"cluster":"c","brokerName":"b1","brokerAddrs":{"0":"` + master.Load().(string) + `"}}]}`)
		return r
	})
	old.Handle(remoting.PullMessage, remoting.ServiceNotAvailable, "not the master of its set", "")
	next.HandleFunc(remoting.PullMessage, func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, remoting.PullNotFound, "")
		r.ExtFields = map[string]string{"nextBeginOffset": "0", "minOffset": "0", "maxOffset": "0", "suggestWhichBrokerId": "0"}
		return r
	})
	c, err := core.New(core.Config{Name: "consumer", NameServers: []string{ns.Addr()}, Logger: testutil.Logger(t), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	ctx := context.Background()
	if _, err := c.UpdateRoute(ctx, "T"); err != nil {
		t.Fatal(err)
	}
	a := pullArgs{group: "g", mq: client.MessageQueue{Topic: "T", BrokerName: "b1"}, filter: filter{expr: "*"}, max: 1, commitOffset: -1}

	// Refused, and the route still names the same broker: an error, not errRouteMoved.
	_, err = pull(ctx, c, a)
	var be *client.BrokerError
	if !errors.As(err, &be) || be.Code != remoting.ServiceNotAvailable || errors.Is(err, errRouteMoved) {
		t.Fatalf("refused pull: %v", err)
	}
	if n := len(ns.Requests(remoting.GetRouteInfoByTopic)); n != 2 {
		t.Fatalf("route requests after a refusal = %d, want 2 (one at once)", n)
	}
	time.Sleep(600 * time.Millisecond) // past core.refreshGap
	master.Store(next.Addr())
	if _, err = pull(ctx, c, a); !errors.Is(err, errRouteMoved) {
		t.Fatalf("refused pull after the switch: %v, want errRouteMoved", err)
	}
	if res, err := pull(ctx, c, a); err != nil || res.Status != client.PullNoNewMsg {
		t.Fatalf("pull from the new master: %+v %v", res, err)
	}
	if len(next.Requests(remoting.PullMessage)) != 1 {
		t.Fatal("the pull after the route refresh did not go to the new master")
	}
	// Within refreshGap a refusal does not ask again (a topic's queues fail together).
	master.Store(old.Addr())
	if _, err := c.UpdateRoute(ctx, "T"); err != nil {
		t.Fatal(err)
	}
	before := len(ns.Requests(remoting.GetRouteInfoByTopic))
	_, _ = pull(ctx, c, a)
	_, _ = pull(ctx, c, a)
	if n := len(ns.Requests(remoting.GetRouteInfoByTopic)) - before; n > 1 {
		t.Fatalf("%d route requests for two refusals within core.refreshGap, want at most 1", n)
	}
}
