package acl

import (
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

// FuzzACLParse feeds arbitrary bytes to the plain_acl.yml loader; it never panics, and a table it
// accepts can decide requests.
func FuzzACLParse(f *testing.F) {
	f.Add([]byte(rocketmqSample))
	f.Add([]byte("accounts:\n  - {accessKey: a, secretKey: b, whiteRemoteAddress: '1.2.{3,4}', topicPerms: [t=PUB]}\n"))
	f.Add([]byte("globalWhiteRemoteAddresses: ['10.0.0.0/8', '1.1-2.*']"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Parse(data)
		if err != nil {
			return
		}
		ext := map[string]string{"AccessKey": "a", "Signature": "x", "topic": "t"}
		_ = tab.Check(request(remoting.SendMessage, "1.2.3.4:5", ext, nil))
	})
}

// FuzzACLCheck feeds arbitrary request fields, remote addresses and bodies to Check.
func FuzzACLCheck(f *testing.F) {
	tab, err := Parse([]byte(rocketmqSample))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(int32(34), "1.2.3.4:5", "RocketMQ", "sig", "topicB", []byte(`{"consumerDataSet":[{"groupName":"g"}]}`))
	f.Add(int32(41), "[::1]:5", "", "", "", []byte(`{"mqSet":[{}]}`))
	f.Add(int32(310), "garbage", "rocketmq2", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "", []byte{})
	f.Fuzz(func(t *testing.T, code int32, remote, ak, sig, topic string, body []byte) {
		ext := map[string]string{"AccessKey": ak, "Signature": sig, "topic": topic, "b": topic, "consumerGroup": topic}
		if d := tab.Check(request(code, remote, ext, body)); d == nil {
			ip, ok := remoteIP(remote)
			if !ok || !(tab.global[0].match(ip) || tab.global[1].match(ip) || tab.accounts["rocketmq2"].white.match(ip)) {
				t.Fatalf("unsigned request from %q allowed (code %d)", remote, code)
			}
		}
	})
}
