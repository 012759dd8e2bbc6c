package acl

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/internal/auth"
	"github.com/skiffmq/skiff/internal/remoting"
)

// rocketmqSample is the plain_acl.yml RocketMQ 4.9 ships, unchanged apart from comments.
const rocketmqSample = `
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.*

accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      # the group should convert to retry topic
      - groupA=DENY
      - groupB=PUB|SUB
      - groupC=SUB

  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    # if it is admin, it could access all resources
    admin: true
dataVersion:
  - counter: 3
    timestamp: 1700000000000
`

func request(code int32, remote string, ext map[string]string, body []byte) *Request {
	return &Request{Code: code, Remote: remote, Body: body, Fields: maps.All(ext),
		Get: func(k string) (string, bool) { v, ok := ext[k]; return v, ok }}
}

func signed(ak, sk string, ext map[string]string, body []byte) map[string]string {
	out := map[string]string{auth.FieldAccessKey: ak}
	maps.Copy(out, ext)
	out[auth.FieldSignature] = auth.SignACL(sk, maps.All(out), body)
	return out
}

func mustParse(t *testing.T, s string) *Table {
	t.Helper()
	tab, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestACLParseRocketMQSample(t *testing.T) {
	tab := mustParse(t, rocketmqSample)
	if tab.Accounts() != 2 {
		t.Fatalf("accounts = %d", tab.Accounts())
	}
	a := tab.accounts["RocketMQ"]
	if a.admin || a.defTopic != Deny || a.defGroup != Sub || a.perms["topicB"] != Pub|Sub || a.perms["%RETRY%groupA"] != Deny {
		t.Fatalf("account RocketMQ compiled wrong: %+v", a)
	}
	if !tab.accounts["rocketmq2"].admin {
		t.Fatal("rocketmq2 should be admin")
	}
}

func TestACLParseErrorsNameTheEntry(t *testing.T) {
	for _, c := range []struct{ yml, want string }{
		{"accounts:\n  - accessKey: a\n", "secretKey is empty"},
		{"accounts:\n  - secretKey: s\n", "accessKey is empty"},
		{"accounts:\n  - {accessKey: a, secretKey: s}\n  - {accessKey: a, secretKey: t}\n", "appears twice"},
		{"accounts:\n  - {accessKey: a, secretKey: s, defaultTopicPerm: ALL}\n", "defaultTopicPerm"},
		{"accounts:\n  - {accessKey: a, secretKey: s, topicPerms: [x]}\n", `entry "x"`},
		{"accounts:\n  - {accessKey: a, secretKey: s, whiteRemoteAddress: 300.1.1.1}\n", "whiteRemoteAddress"},
		{"accounts:\n  - {accessKey: a, secretKey: s, adminn: true}\n", "adminn"},
		{"globalWhiteRemoteAddresses: [10.*.1.1]\n", "globalWhiteRemoteAddresses[0]"},
		{"accounts: 5\n", "acl:"},
	} {
		_, err := Parse([]byte(c.yml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.yml, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secretKey: s") {
			t.Errorf("error leaks a secret: %v", err)
		}
	}
	if tab, err := Parse(nil); err != nil || tab.Accounts() != 0 {
		t.Fatalf("empty file: %v", err)
	}
}

func TestACLAddressPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern string
		yes, no []string
	}{
		{"*", []string{"1.2.3.4", "::1"}, nil},
		{"*.*.*.*", []string{"1.2.3.4"}, nil},
		{"192.168.0.*", []string{"192.168.0.1", "192.168.0.255"}, []string{"192.168.1.1", "10.0.0.1"}},
		{"192.168.*", []string{"192.168.7.1"}, []string{"192.169.0.1"}},
		{"10.10.1-20.*", []string{"10.10.1.5", "10.10.20.0"}, []string{"10.10.21.1", "10.10.0.1"}},
		{"192.168.0.{1,2,3}", []string{"192.168.0.2"}, []string{"192.168.0.4"}},
		{"127.0.0.1", []string{"127.0.0.1"}, []string{"127.0.0.2"}},
		{"10.0.0.0/8", []string{"10.200.1.1"}, []string{"11.0.0.1"}},
		{"::1", []string{"::1"}, []string{"127.0.0.1"}},
		{"", nil, []string{"127.0.0.1"}},
	} {
		m, err := parsePattern(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		for _, y := range c.yes {
			ip, _ := remoteIP(y + ":1")
			if strings.Contains(y, ":") {
				ip, _ = remoteIP("[" + y + "]:1")
			}
			if !m.match(ip) {
				t.Errorf("%q should match %s", c.pattern, y)
			}
		}
		for _, n := range c.no {
			ip, _ := remoteIP(n)
			if m.match(ip) {
				t.Errorf("%q should not match %s", c.pattern, n)
			}
		}
	}
	for _, bad := range []string{"1.2.3.256", "1.*.3.4", "1.2.5-3.*", "1.2.3.{4", "a.b.c.d", "10.0.0.0/33"} {
		if _, err := parsePattern(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestACLCheck(t *testing.T) {
	tab := mustParse(t, rocketmqSample)
	const from = "172.16.0.9:40000"
	body := []byte("payload")
	cases := []struct {
		name   string
		req    *Request
		reason Reason
		res    string
	}{
		{"send to PUB topic", request(remoting.SendMessageV2, from, signed("RocketMQ", "12345678", map[string]string{"b": "topicB"}, body), body), "", ""},
		{"batch send to DENY topic", request(remoting.SendBatchMessage, from, signed("RocketMQ", "12345678", map[string]string{"b": "topicA"}, body), body), ReasonNoPerm, "topic:topicA"},
		{"send to SUB-only topic", request(remoting.SendMessage, from, signed("RocketMQ", "12345678", map[string]string{"topic": "topicC"}, body), body), ReasonNoPerm, "topic:topicC"},
		{"send to default-DENY topic", request(remoting.SendMessage, from, signed("RocketMQ", "12345678", map[string]string{"topic": "other"}, body), body), ReasonNoPerm, "topic:other"},
		{"pull with SUB group", request(remoting.PullMessage, from, signed("RocketMQ", "12345678", map[string]string{"topic": "topicC", "consumerGroup": "groupC"}, nil), nil), "", ""},
		{"pull with DENY group", request(remoting.PullMessage, from, signed("RocketMQ", "12345678", map[string]string{"topic": "topicC", "consumerGroup": "groupA"}, nil), nil), ReasonNoPerm, "group:groupA"},
		{"wrong secret", request(remoting.SendMessageV2, from, signed("RocketMQ", "87654321", map[string]string{"b": "topicB"}, body), body), ReasonBadSignature, ""},
		{"unknown key", request(remoting.SendMessageV2, from, signed("nobody", "12345678", map[string]string{"b": "topicB"}, body), body), ReasonUnknownKey, ""},
		{"no key", request(remoting.SendMessageV2, from, map[string]string{"b": "topicB"}, body), ReasonNoAccessKey, ""},
		{"non-admin create topic", request(remoting.UpdateAndCreateTopic, from, signed("RocketMQ", "12345678", map[string]string{"topic": "topicB"}, nil), nil), ReasonNotAdmin, ""},
		{"admin create topic", request(remoting.UpdateAndCreateTopic, from, signed("rocketmq2", "12345678", map[string]string{"topic": "x"}, nil), nil), "", ""},
		{"admin sends anywhere", request(remoting.SendMessage, from, signed("rocketmq2", "12345678", map[string]string{"topic": "any"}, nil), nil), "", ""},
		{"global white address, no signature", request(remoting.UpdateAndCreateTopic, "192.168.0.7:1", map[string]string{"topic": "x"}, nil), "", ""},
		{"account white address, bad signature", request(remoting.SendMessage, "192.168.1.7:1", map[string]string{auth.FieldAccessKey: "rocketmq2", auth.FieldSignature: "x", "topic": "x"}, nil), "", ""},
		{"heartbeat with DENY group", request(remoting.HeartBeat, from, signed("RocketMQ", "12345678", nil, []byte(`{"clientID":"c","consumerDataSet":[{"groupName":"groupA","subscriptionDataSet":[{"topic":"topicC"}]}]}`)), []byte(`{"clientID":"c","consumerDataSet":[{"groupName":"groupA","subscriptionDataSet":[{"topic":"topicC"}]}]}`)), ReasonNoPerm, "group:groupA"},
		{"heartbeat bad body", request(remoting.HeartBeat, from, signed("RocketMQ", "12345678", nil, []byte(`{`)), []byte(`{`)), ReasonBadRequest, ""},
		{"send back needs PUB on origin topic", request(remoting.ConsumerSendMsgBack, from, signed("RocketMQ", "12345678", map[string]string{"originTopic": "topicC", "group": "groupC"}, nil), nil), ReasonNoPerm, "topic:topicC"},
	}
	for _, c := range cases {
		for form, req := range requestForms(c.req) {
			checkCase(t, tab, c.name+" ("+form+")", req, c.reason, c.res)
		}
	}
}

// requestForms returns r in the three shapes Check reads: fields given as an iterator (r
// itself), and the request as a command whose header is a map or a list (as the server decodes
// it; here in descending key order, so the signature's ordering is exercised).
func requestForms(r *Request) map[string]*Request {
	ext := maps.Collect(r.Fields)
	var list []remoting.ExtField
	for _, k := range slices.Backward(slices.Sorted(maps.Keys(ext))) {
		list = append(list, remoting.ExtField{Key: k, Value: ext[k]})
	}
	return map[string]*Request{
		"fields":       r,
		"command map":  {Code: r.Code, Remote: r.Remote, Cmd: remoting.NewRequest(r.Code, maps.Clone(ext), r.Body), Body: r.Body},
		"command list": {Code: r.Code, Remote: r.Remote, Cmd: remoting.NewRequestList(r.Code, r.Body).SetRawExt(list), Body: r.Body},
	}
}

// checkCase asserts Check's decision on req: allowed when reason is "", else refused for reason
// on resource res, with a remark that names the access key and never the secret.
func checkCase(t *testing.T, tab *Table, name string, req *Request, reason Reason, res string) {
	t.Helper()
	d := tab.Check(req)
	switch {
	case reason == "" && d != nil:
		t.Errorf("%s: refused: %v", name, d)
	case reason != "" && d == nil:
		t.Errorf("%s: allowed, want %s", name, reason)
	case d != nil && (d.Reason != reason || d.Resource != res):
		t.Errorf("%s: %s %q, want %s %q", name, d.Reason, d.Resource, reason, res)
	}
	if d != nil && strings.Contains(d.Error(), "12345678") {
		t.Errorf("%s: remark leaks the secret: %s", name, d.Error())
	}
	if d != nil && d.Reason != ReasonNoAccessKey && !strings.Contains(d.Error(), "accessKey=") {
		t.Errorf("%s: remark does not name the access key: %s", name, d.Error())
	}
}

func TestACLReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plain_acl.yml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("accounts:\n  - {accessKey: ak, secretKey: sk, defaultTopicPerm: DENY}\n")
	a, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	req := func() *Request {
		return request(remoting.SendMessage, "1.1.1.1:1", signed("ak", "sk", map[string]string{"topic": "T"}, nil), nil)
	}
	if a.Check(req()) == nil {
		t.Fatal("DENY allowed")
	}
	if changed, err := a.Reload(); changed || err != nil {
		t.Fatalf("unchanged file: changed=%v err=%v", changed, err)
	}
	write("accounts:\n  - {accessKey: ak, secretKey: sk, defaultTopicPerm: PUB}\n")
	if changed, err := a.Reload(); !changed || err != nil {
		t.Fatalf("changed file: changed=%v err=%v", changed, err)
	}
	if d := a.Check(req()); d != nil {
		t.Fatalf("PUB refused: %v", d)
	}
	write("accounts: [")
	if _, err := a.Reload(); err == nil {
		t.Fatal("bad file accepted")
	}
	if d := a.Check(req()); d != nil {
		t.Fatalf("bad file replaced the table: %v", d)
	}
	if changed, err := a.Reload(); changed || err != nil {
		t.Fatalf("the same bad file is reported once: changed=%v err=%v", changed, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
