package itest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// rawClient is a minimal producer and pull consumer on the bare protocol (route through
// client/admin, SEND_MESSAGE 10 and PULL_MESSAGE 11 to the master), until the Skiff SDK has its
// own producer and consumer.
type rawClient struct {
	a     *admin.Admin
	topic string
	next  map[int32]int64 // pull offset per queue
}

// master resolves the topic's route through the name servers and returns the master address and
// the queue count.
func (rc *rawClient) master(t *testing.T) (string, int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := rc.a.TopicRoute(ctx, rc.topic)
	if err != nil {
		t.Fatalf("route of %s: %v", rc.topic, err)
	}
	if len(r.BrokerDatas) == 0 || r.BrokerDatas[0].MasterAddr() == "" || len(r.QueueDatas) == 0 {
		t.Fatalf("route of %s has no master: %+v", rc.topic, r)
	}
	return r.BrokerDatas[0].MasterAddr(), r.QueueDatas[0].WriteQueueNums
}

// send stores bodies round robin over the queues and returns them.
func (rc *rawClient) send(t *testing.T, prefix string, n int) []string {
	t.Helper()
	addr, queues := rc.master(t)
	var bodies []string
	for i := range n {
		body := fmt.Sprintf("%s-%02d", prefix, i)
		req := remoting.NewRequest(remoting.SendMessage, map[string]string{
			"producerGroup": "itest-pg", "topic": rc.topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
			"queueId": strconv.Itoa(i % int(queues)), "sysFlag": "0", "flag": "0",
			"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
			"properties":    "UNIQ_KEY\x01" + message.NewUniqKey(), "reconsumeTimes": "0", "unitMode": "false", "batch": "false",
		}, []byte(body))
		resp, err := testutil.Call(addr, req, 5*time.Second)
		if err != nil || resp.Code != remoting.Success {
			t.Fatalf("send %s to %s: %v %v", body, addr, resp, err)
		}
		bodies = append(bodies, body)
	}
	return bodies
}

// pullAll pulls every queue from where it stopped until nothing is left, and returns the bodies.
func (rc *rawClient) pullAll(t *testing.T) map[string]bool {
	t.Helper()
	addr, queues := rc.master(t)
	got := map[string]bool{}
	for q := range queues {
		for {
			req := remoting.NewRequest(remoting.PullMessage, map[string]string{
				"consumerGroup": "itest-cg", "topic": rc.topic, "queueId": strconv.Itoa(int(q)),
				"queueOffset": strconv.FormatInt(rc.next[q], 10), "maxMsgNums": "32", "sysFlag": "4",
				"commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0",
				"expressionType": "TAG",
			}, nil)
			resp, err := testutil.Call(addr, req, 5*time.Second)
			if err != nil {
				t.Fatalf("pull %s q%d: %v", rc.topic, q, err)
			}
			if resp.Code != remoting.Success {
				break // PULL_NOT_FOUND and friends: this queue is drained
			}
			msgs, err := message.DecodeAll(resp.Body)
			if err != nil {
				t.Fatalf("pull %s q%d: decode: %v", rc.topic, q, err)
			}
			next, err := resp.ExtInt64("nextBeginOffset")
			if err != nil || next <= rc.next[q] {
				t.Fatalf("pull %s q%d: nextBeginOffset %d (from %d): %v", rc.topic, q, next, rc.next[q], err)
			}
			rc.next[q] = next
			for _, m := range msgs {
				got[string(m.Body)] = true
			}
		}
	}
	return got
}

// waitPulled pulls until every body in want has been seen.
func (rc *rawClient) waitPulled(t *testing.T, want []string, what string) {
	t.Helper()
	seen := map[string]bool{}
	testutil.WaitFor(t, 15*time.Second, func() bool {
		for b := range rc.pullAll(t) {
			seen[b] = true
		}
		for _, w := range want {
			if !seen[w] {
				return false
			}
		}
		return true
	}, what)
}
