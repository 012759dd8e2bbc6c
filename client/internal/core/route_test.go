package core

import (
	"slices"
	"testing"

	"github.com/skiffmq/skiff/client"
)

func queues(topic string, spec ...any) []client.MessageQueue {
	var out []client.MessageQueue
	for i := 0; i < len(spec); i += 2 {
		for q := int32(0); q < int32(spec[i+1].(int)); q++ {
			out = append(out, client.MessageQueue{Topic: topic, BrokerName: spec[i].(string), QueueID: q})
		}
	}
	return out
}

func mixedRoute() *TopicRoute {
	return &TopicRoute{
		QueueDatas: []QueueData{
			{BrokerName: "b2", ReadQueueNums: 2, WriteQueueNums: 2, Perm: PermRead | PermWrite},
			{BrokerName: "b1", ReadQueueNums: 4, WriteQueueNums: 3, Perm: PermRead | PermWrite},
			{BrokerName: "b3", ReadQueueNums: 1, WriteQueueNums: 5, Perm: PermRead},             // read only
			{BrokerName: "b4", ReadQueueNums: 2, WriteQueueNums: 2, Perm: PermRead | PermWrite}, // no master
			{BrokerName: "b5", ReadQueueNums: 3, WriteQueueNums: 1, Perm: PermWrite},            // write only
			{BrokerName: "b6", ReadQueueNums: 3, WriteQueueNums: 3, Perm: 0},                    // no permission
			{BrokerName: "b7", ReadQueueNums: 2, WriteQueueNums: 2, Perm: PermRead | PermWrite}, // not in brokerDatas
		},
		BrokerDatas: []BrokerData{
			{Cluster: "c", BrokerName: "b5", BrokerAddrs: map[int64]string{0: "h5:0"}},
			{Cluster: "c", BrokerName: "b1", BrokerAddrs: map[int64]string{0: "h1:0", 1: "h1:1"}},
			{Cluster: "c", BrokerName: "b2", BrokerAddrs: map[int64]string{0: "h2:0"}},
			{Cluster: "c", BrokerName: "b3", BrokerAddrs: map[int64]string{0: "h3:0"}},
			{Cluster: "c", BrokerName: "b4", BrokerAddrs: map[int64]string{1: "h4:1"}},
			{Cluster: "c", BrokerName: "b6", BrokerAddrs: map[int64]string{0: "h6:0"}},
		},
	}
}

func TestPublishQueues(t *testing.T) {
	r := mixedRoute()
	got := r.PublishQueues("T")
	want := queues("T", "b1", 3, "b2", 2, "b5", 1)
	if !slices.Equal(got, want) {
		t.Fatalf("PublishQueues = %v\nwant %v", got, want)
	}
	// The route itself is not reordered.
	if r.QueueDatas[0].BrokerName != "b2" || r.BrokerDatas[0].BrokerName != "b5" {
		t.Fatalf("PublishQueues sorted the route in place")
	}
	if qs := (&TopicRoute{}).PublishQueues("T"); len(qs) != 0 {
		t.Fatalf("empty route published %v", qs)
	}
	// A master registered with an empty address does not count.
	r = &TopicRoute{QueueDatas: []QueueData{{BrokerName: "b", WriteQueueNums: 2, Perm: 6}},
		BrokerDatas: []BrokerData{{BrokerName: "b", BrokerAddrs: map[int64]string{0: ""}}}}
	if qs := r.PublishQueues("T"); len(qs) != 0 {
		t.Fatalf("route with an empty master address published %v", qs)
	}
}

func TestSubscribeQueues(t *testing.T) {
	got := mixedRoute().SubscribeQueues("T")
	want := queues("T", "b1", 4, "b2", 2, "b3", 1, "b4", 2, "b7", 2)
	if !slices.Equal(got, want) {
		t.Fatalf("SubscribeQueues = %v\nwant %v", got, want)
	}
}

func TestTopicRouteEqual(t *testing.T) {
	a := mixedRoute()
	b := mixedRoute()
	slices.Reverse(b.QueueDatas)
	slices.Reverse(b.BrokerDatas)
	b.OrderTopicConf = "ignored"
	b.FilterServerTable = map[string][]string{"x": {"y"}}
	if !a.Equal(b) || !b.Equal(a) {
		t.Fatal("routes listing the same brokers and queues in another order are not Equal")
	}
	var nilRoute *TopicRoute
	if !nilRoute.Equal(nil) || a.Equal(nil) || nilRoute.Equal(a) {
		t.Fatal("nil handling of Equal is wrong")
	}
	changes := map[string]func(r *TopicRoute){
		"queue count":   func(r *TopicRoute) { r.QueueDatas[1].WriteQueueNums++ },
		"perm":          func(r *TopicRoute) { r.QueueDatas[0].Perm = PermRead },
		"sys flag":      func(r *TopicRoute) { r.QueueDatas[0].TopicSysFlag = 1 },
		"queue removed": func(r *TopicRoute) { r.QueueDatas = r.QueueDatas[1:] },
		"address":       func(r *TopicRoute) { r.BrokerDatas[1].BrokerAddrs = map[int64]string{0: "h1:0", 1: "other"} },
		"slave gone":    func(r *TopicRoute) { r.BrokerDatas[1].BrokerAddrs = map[int64]string{0: "h1:0"} },
		"cluster":       func(r *TopicRoute) { r.BrokerDatas[2].Cluster = "d" },
		"broker added": func(r *TopicRoute) {
			r.BrokerDatas = append(r.BrokerDatas, BrokerData{BrokerName: "b9", BrokerAddrs: map[int64]string{0: "x"}})
		},
	}
	for name, change := range changes {
		c := mixedRoute()
		change(c)
		if a.Equal(c) || c.Equal(a) {
			t.Errorf("%s: changed route is Equal to the original", name)
		}
	}
}

func TestIsRetryTopic(t *testing.T) {
	if !IsRetryTopic("%RETRY%g") || IsRetryTopic("%DLQ%g") || IsRetryTopic("T%RETRY%") {
		t.Fatal("IsRetryTopic")
	}
}
