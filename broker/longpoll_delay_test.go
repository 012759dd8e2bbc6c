package broker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
)

// TestBrokerLongPollWokenByDelayedDelivery: a pull held on a topic is answered when a delayed
// message for it is delivered from SCHEDULE_TOPIC_XXXX (not at the suspend timeout, which is
// longer than the client waits here).
func TestBrokerLongPollWokenByDelayedDelivery(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "LPD", 1, "", "", "other queue") // the topic exists, queue 0 has no consume queue yet
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"LPD": "*"})
	done := make(chan *remoting.Command, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		resp, err := tb.cli.Invoke(ctx, tb.addr, remoting.NewRequest(remoting.PullMessage, pullExt("cg", "LPD", 0, 0, 0x2, 60000, ""), nil))
		if err != nil {
			t.Errorf("held pull not answered: %v", err)
		}
		done <- resp
	}()
	waitFor(t, 10*time.Second, func() bool { return heldPulls(tb.b) == 1 }, "the pull to be held")
	props := map[string]string{message.PropertyUniqKey: message.NewUniqKey(), message.PropertyDelayLevel: "1"}
	ext := map[string]string{
		"producerGroup": "pg", "topic": "LPD", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": "0", "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"flag": "0", "properties": message.FormatProperties(props),
	}
	if r := tb.call(t, remoting.SendMessage, ext, []byte("delayed"), 5*time.Second); r.Code != remoting.Success {
		t.Fatalf("delayed send: %+v", r)
	}
	r := <-done
	if r == nil || r.Code != remoting.Success {
		t.Fatalf("held pull answered with %+v, want SUCCESS carrying the delivered message", r)
	}
	if msgs := decodeBody(t, r.Body); len(msgs) != 1 || string(msgs[0].Body) != "delayed" {
		t.Fatalf("held pull returned %d messages", len(msgs))
	}
}
