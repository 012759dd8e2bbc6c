package admin

import "testing"

// FuzzDecodeBodies feeds arbitrary bytes to the body decoders admin uses; they must never panic.
func FuzzDecodeBodies(f *testing.F) {
	for _, s := range []string{
		`{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"b","cluster":"c"}],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4,"writeQueueNums":4}]}`,
		`{"brokerAddrTable":{"b":{"brokerAddrs":{0:"x",1:"y"},"brokerName":"b","cluster":"c"}},"clusterAddrTable":{"c":["b"]}}`,
		`{"table":{"putTps":"1.0"}}`, `{"topicList":["a","b"]}`, `{"brokerAddrs":{99999999999999999999:"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r TopicRoute
		_ = Unmarshal(in, &r)
		var ci ClusterInfo
		if Unmarshal(in, &ci) == nil {
			for _, c := range ci.ClusterNames() {
				_, _ = ci.MasterAddrs(c)
			}
		}
		var kv struct {
			Table map[string]string `json:"table"`
		}
		_ = Unmarshal(in, &kv)
	})
}
