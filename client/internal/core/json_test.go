package core

import "testing"

func TestUnmarshalFastjsonRoute(t *testing.T) {
	body := `{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"C"}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":2}]}`
	var r TopicRoute
	if err := Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.BrokerDatas) != 1 || r.BrokerDatas[0].MasterAddr() != "127.0.0.1:10911" || r.BrokerDatas[0].BrokerAddrs[1] != "127.0.0.1:10921" {
		t.Fatalf("broker datas %+v", r.BrokerDatas)
	}
	if len(r.QueueDatas) != 1 || r.QueueDatas[0].ReadQueueNums != 4 || r.QueueDatas[0].WriteQueueNums != 2 || r.QueueDatas[0].Perm != 6 {
		t.Fatalf("queue datas %+v", r.QueueDatas)
	}
}
