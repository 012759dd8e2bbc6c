package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

func TestTopicRoute(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.Success, "",
		`{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"C1"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`)
	code, out, errOut := mqadmin(t, "topicRoute", "-n", ns.Addr(), "-t", "T1")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	var r struct {
		BrokerDatas []struct {
			BrokerAddrs map[string]string `json:"brokerAddrs"`
		} `json:"brokerDatas"`
		QueueDatas []struct {
			ReadQueueNums int `json:"readQueueNums"`
		} `json:"queueDatas"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(r.BrokerDatas) != 1 || r.BrokerDatas[0].BrokerAddrs["0"] != "127.0.0.1:10911" || r.QueueDatas[0].ReadQueueNums != 4 {
		t.Fatalf("route %+v", r)
	}
	if got := ns.Requests(remoting.GetRouteInfoByTopic); len(got) != 1 || got[0].ExtFields["topic"] != "T1" {
		t.Fatalf("requests %v", got)
	}
}

func TestTopicRouteUnknownTopic(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	ns.Handle(remoting.GetRouteInfoByTopic, remoting.TopicNotExist, "No topic route info in name server for the topic: Nope", "")
	code, out, errOut := mqadmin(t, "topicRoute", "-n", ns.Addr(), "-t", "Nope")
	if code != 1 || out != "" || !strings.Contains(errOut, `"Nope"`) || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("code %d, out %q, stderr %q", code, out, errOut)
	}
}

func TestTopicRouteNeedsTopic(t *testing.T) {
	code, _, errOut := mqadmin(t, "topicRoute", "-n", "127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, `"topic"`) {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
