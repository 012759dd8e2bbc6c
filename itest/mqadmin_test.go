package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/testutil"
)

// runAdmin runs the built mqadmin binary and returns its exit code, stdout and stderr.
func runAdmin(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bins.Admin, args...)
	cmd.Env = append(cmd.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run mqadmin %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

// mustAdmin runs mqadmin and fails the test unless it exits 0.
func mustAdmin(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runAdmin(t, nil, args...)
	if code != 0 {
		t.Fatalf("mqadmin %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

// TestMqadminAgainstCluster drives every mqadmin command against a real name server and broker.
func TestMqadminAgainstCluster(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	ns, cluster, addr := c.NamesrvAddr, c.Broker.ClusterName, c.Broker.Addr

	out := mustAdmin(t, "clusterList", "-n", ns)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "#Cluster Name") {
		t.Fatalf("clusterList:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) < 5 || f[0] != cluster || f[1] != c.Broker.Name || f[2] != "0" || f[3] != addr || f[4] != "Skiff" {
		t.Fatalf("clusterList row %q", lines[1])
	}

	out = mustAdmin(t, "updateTopic", "-n", ns, "-c", cluster, "-t", "AdminTopic", "-r", "3", "-w", "5", "-p", "6")
	if !strings.Contains(out, "create topic to "+addr+" success.") || !strings.Contains(out, "readQueueNums=3, writeQueueNums=5, perm=RW-") {
		t.Fatalf("updateTopic output:\n%s", out)
	}
	// The broker registers the new topic at once; the route then shows the queue counts.
	var route struct {
		BrokerDatas []struct {
			BrokerName  string            `json:"brokerName"`
			BrokerAddrs map[string]string `json:"brokerAddrs"`
		} `json:"brokerDatas"`
		QueueDatas []struct {
			ReadQueueNums, WriteQueueNums, Perm int
		} `json:"queueDatas"`
	}
	testutil.WaitFor(t, 15*time.Second, func() bool {
		code, out, _ := runAdmin(t, nil, "topicRoute", "-n", ns, "-t", "AdminTopic")
		return code == 0 && json.Unmarshal([]byte(out), &route) == nil && len(route.QueueDatas) == 1
	}, "topicRoute of AdminTopic")
	if q := route.QueueDatas[0]; q.ReadQueueNums != 3 || q.WriteQueueNums != 5 || q.Perm != 6 {
		t.Fatalf("route queue data %+v", q)
	}
	if len(route.BrokerDatas) != 1 || route.BrokerDatas[0].BrokerAddrs["0"] != addr {
		t.Fatalf("route broker data %+v", route.BrokerDatas)
	}

	// Update through -b, then check the new counts.
	mustAdmin(t, "updateTopic", "-n", ns, "-b", addr, "-t", "AdminTopic", "-r", "2", "-w", "2")
	testutil.WaitFor(t, 15*time.Second, func() bool {
		code, out, _ := runAdmin(t, nil, "topicRoute", "-n", ns, "-t", "AdminTopic")
		return code == 0 && strings.Contains(out, `"writeQueueNums": 2`)
	}, "topicRoute of AdminTopic with 2 queues")

	if out := mustAdmin(t, "topicList", "-n", ns); !containsLine(out, "AdminTopic") || !containsLine(out, "TBW102") {
		t.Fatalf("topicList lacks AdminTopic or TBW102:\n%s", out)
	}
	code, out, errOut := runAdmin(t, []string{"NAMESRV_ADDR=" + ns}, "brokerStatus", "-b", addr)
	if code != 0 || !strings.Contains(out, "brokerVersionDesc") || !strings.Contains(out, "commitLogMaxOffset") {
		t.Fatalf("brokerStatus (NAMESRV_ADDR from env): exit %d\n%s\n%s", code, out, errOut)
	}

	out = mustAdmin(t, "deleteTopic", "-n", ns, "-c", cluster, "-t", "AdminTopic")
	if !strings.Contains(out, "delete topic [AdminTopic] from cluster ["+cluster+"] success.") {
		t.Fatalf("deleteTopic output:\n%s", out)
	}
	code, _, errOut = runAdmin(t, nil, "topicRoute", "-n", ns, "-t", "AdminTopic")
	if code != 1 || !strings.Contains(errOut, `"AdminTopic"`) {
		t.Fatalf("topicRoute after delete: exit %d stderr %q", code, errOut)
	}
	if out := mustAdmin(t, "topicList", "-n", ns); containsLine(out, "AdminTopic") {
		t.Fatalf("topicList still lists AdminTopic after delete:\n%s", out)
	}
	c.Broker.StopOK()
	c.NameServers[0].StopOK()
}

// TestMqadminBadInput checks exit codes and one-line reasons for mistakes.
func TestMqadminBadInput(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	ns := testutil.StartNamesrv(t, bins.Namesrv, testutil.NamesrvOptions{})
	dead := testutil.DeadAddr(t)
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown topic", nil, []string{"topicRoute", "-n", ns.Addr, "-t", "NoSuchTopic"}, `"NoSuchTopic"`},
		{"unreachable name server", nil, []string{"topicList", "-n", dead}, dead},
		{"unreachable name server from env", []string{"NAMESRV_ADDR=" + dead}, []string{"clusterList"}, dead},
		{"missing topic", nil, []string{"updateTopic", "-n", ns.Addr, "-c", "C"}, `"topic"`},
		{"unknown cluster", nil, []string{"updateTopic", "-n", ns.Addr, "-c", "NoCluster", "-t", "T"}, `"NoCluster"`},
		{"bad perm", nil, []string{"updateTopic", "-n", ns.Addr, "-b", "127.0.0.1:1", "-t", "T", "-p", "9"}, "perm"},
		{"unknown command", nil, []string{"frobnicate"}, `"frobnicate"`},
		{"host name refused", nil, []string{"topicList", "-n", "localhost"}, "localhost"},
	}
	for _, tc := range cases {
		code, out, errOut := runAdmin(t, tc.env, tc.args...)
		if code == 0 || !strings.HasPrefix(errOut, "mqadmin: ") || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: mqadmin %v: exit %d, stdout %q, stderr %q; want non-zero and one line naming %s",
				tc.name, tc.args, code, out, errOut, tc.want)
		}
	}
	ns.StopOK()
}

func containsLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// TestMqadminSendAndConsumeMessage produces and consumes from the command line: sendMessage
// auto-creates the topic through TBW102, consumeMessage reads it back.
func TestMqadminSendAndConsumeMessage(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	ns := c.NameServers[0].Addr
	for i := 0; i < 3; i++ {
		out := mustAdmin(t, "sendMessage", "-n", ns, "-t", "CliTopic", "-p", fmt.Sprintf("hello-%d", i), "-k", fmt.Sprintf("key%d", i), "-c", "TagA")
		if !strings.Contains(out, "SEND_OK") {
			t.Fatalf("sendMessage output:\n%s", out)
		}
	}
	var out string
	testutil.WaitFor(t, 10*time.Second, func() bool {
		out = mustAdmin(t, "consumeMessage", "-n", ns, "-t", "CliTopic")
		return strings.Contains(out, "3 messages")
	}, "consumeMessage to read the three messages")
	for i := 0; i < 3; i++ {
		if !strings.Contains(out, fmt.Sprintf(`body="hello-%d"`, i)) || !strings.Contains(out, fmt.Sprintf(`keys="key%d"`, i)) {
			t.Fatalf("consumeMessage output lacks message %d:\n%s", i, out)
		}
	}
	if code, _, errOut := runAdmin(t, nil, "sendMessage", "-n", ns, "-t", "bad topic", "-p", "x"); code == 0 || !strings.Contains(errOut, "bad topic") {
		t.Fatalf("sendMessage to an invalid topic: exit %d, %q", code, errOut)
	}
}

// TestMqadminGroupsPermsAndQueries covers updateSubGroup, deleteSubGroup, getBrokerConfig,
// wipeWritePerm/addWritePerm, queryMsgById, queryMsgByKey, queryMsgByUniqueKey and the failure of
// consumerConnection for a group without clients.
func TestMqadminGroupsPermsAndQueries(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	ns, br := c.NameServers[0].Addr, c.Broker.Addr
	if out := mustAdmin(t, "updateSubGroup", "-n", ns, "-b", br, "-g", "opsGroup", "-r", "3"); !strings.Contains(out, "success") {
		t.Fatalf("updateSubGroup: %s", out)
	}
	if out := mustAdmin(t, "getBrokerConfig", "-n", ns, "-b", br); !strings.Contains(out, "brokerName="+c.Broker.Name) {
		t.Fatalf("getBrokerConfig lacks brokerName:\n%s", out)
	}
	out := mustAdmin(t, "sendMessage", "-n", ns, "-t", "OpsTopic", "-p", "findme", "-k", "opskey")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 6 || f[3] != "SEND_OK" {
		t.Fatalf("sendMessage output:\n%s", out)
	}
	uniq, offID := f[4], f[5]
	testutil.WaitFor(t, 10*time.Second, func() bool {
		code, out, _ := runAdmin(t, nil, "queryMsgByKey", "-n", ns, "-t", "OpsTopic", "-k", "opskey")
		return code == 0 && strings.Contains(out, `"findme"`)
	}, "queryMsgByKey to find the message")
	if out := mustAdmin(t, "queryMsgById", "-n", ns, "-i", offID); !strings.Contains(out, `"findme"`) || !strings.Contains(out, "OpsTopic") {
		t.Fatalf("queryMsgById:\n%s", out)
	}
	if out := mustAdmin(t, "queryMsgByUniqueKey", "-n", ns, "-t", "OpsTopic", "-i", uniq); !strings.Contains(out, `"findme"`) {
		t.Fatalf("queryMsgByUniqueKey:\n%s", out)
	}
	if code, _, errOut := runAdmin(t, nil, "queryMsgByKey", "-n", ns, "-t", "OpsTopic", "-k", "nokey"); code == 0 || !strings.Contains(errOut, "nokey") {
		t.Fatalf("queryMsgByKey of a missing key: exit %d %q", code, errOut)
	}
	if code, _, errOut := runAdmin(t, nil, "queryMsgById", "-n", ns, "-i", "XYZ"); code == 0 || !strings.Contains(errOut, "XYZ") {
		t.Fatalf("queryMsgById of a bad id: exit %d %q", code, errOut)
	}
	// Draining: producers see no writable queue; addWritePerm brings it back.
	mustAdmin(t, "wipeWritePerm", "-n", ns, "-b", c.Broker.Name)
	if out := mustAdmin(t, "topicRoute", "-n", ns, "-t", "OpsTopic"); !strings.Contains(out, `"perm": 4`) {
		t.Fatalf("route after wipeWritePerm:\n%s", out)
	}
	if code, _, _ := runAdmin(t, nil, "sendMessage", "-n", ns, "-t", "OpsTopic", "-p", "x"); code == 0 {
		t.Fatal("sendMessage succeeded on a drained broker")
	}
	mustAdmin(t, "addWritePerm", "-n", ns, "-b", c.Broker.Name)
	if out := mustAdmin(t, "topicRoute", "-n", ns, "-t", "OpsTopic"); !strings.Contains(out, `"perm": 6`) {
		t.Fatalf("route after addWritePerm:\n%s", out)
	}
	if code, _, errOut := runAdmin(t, nil, "consumerConnection", "-n", ns, "-g", "nobodyHere"); code == 0 || !strings.Contains(errOut, "nobodyHere") {
		t.Fatalf("consumerConnection of an unknown group: exit %d %q", code, errOut)
	}
	if out := mustAdmin(t, "deleteSubGroup", "-n", ns, "-b", br, "-g", "opsGroup"); !strings.Contains(out, "success") {
		t.Fatalf("deleteSubGroup: %s", out)
	}
}

// TestMqadminProgressStatusAndReset covers topicStatus, consumerProgress, resetOffsetByTime and
// queryMsgByOffset against a real broker, with a consumer group registered over the protocol.
func TestMqadminProgressStatusAndReset(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	ns, br := c.NameServers[0].Addr, c.Broker.Addr
	mustAdmin(t, "updateTopic", "-n", ns, "-b", br, "-t", "ProgTopic", "-r", "1", "-w", "1")
	for i := 0; i < 5; i++ {
		mustAdmin(t, "sendMessage", "-n", ns, "-t", "ProgTopic", "-p", fmt.Sprintf("p%d", i), "-i", "0")
	}
	testutil.WaitFor(t, 10*time.Second, func() bool {
		return strings.Contains(mustAdmin(t, "topicStatus", "-n", ns, "-t", "ProgTopic"), "  5  ")
	}, "topicStatus to show max offset 5")
	// A consumer group: its heartbeat creates %RETRY%progGroup, then it commits offset 2.
	hb, _ := json.Marshal(map[string]any{"clientID": "127.0.0.1@prog", "consumerDataSet": []any{map[string]any{
		"groupName": "progGroup", "consumeType": "CONSUME_PASSIVELY", "messageModel": "CLUSTERING",
		"subscriptionDataSet": []any{map[string]any{"topic": "ProgTopic", "subString": "*"}}}}})
	if r, err := testutil.Call(br, remoting.NewRequest(remoting.HeartBeat, nil, hb), 3*time.Second); err != nil || r.Code != 0 {
		t.Fatalf("heartbeat: %v %v", r, err)
	}
	upd := remoting.NewRequest(remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "progGroup", "topic": "ProgTopic", "queueId": "0", "commitOffset": "2"}, nil)
	if r, err := testutil.Call(br, upd, 3*time.Second); err != nil || r.Code != 0 {
		t.Fatalf("update offset: %v %v", r, err)
	}
	var out string
	testutil.WaitFor(t, 15*time.Second, func() bool {
		code, o, _ := runAdmin(t, nil, "consumerProgress", "-n", ns, "-g", "progGroup")
		out = o
		return code == 0 && strings.Contains(o, "Diff Total: 3")
	}, "consumerProgress to show a lag of 3")
	out = mustAdmin(t, "resetOffsetByTime", "-n", ns, "-g", "progGroup", "-t", "ProgTopic", "-s", "0")
	if !strings.Contains(out, "#offset") {
		t.Fatalf("resetOffsetByTime:\n%s", out)
	}
	if out = mustAdmin(t, "consumerProgress", "-n", ns, "-g", "progGroup"); !strings.Contains(out, "Diff Total: 5") {
		t.Fatalf("consumerProgress after a reset to the beginning:\n%s", out)
	}
	if out = mustAdmin(t, "queryMsgByOffset", "-n", ns, "-t", "ProgTopic", "-b", c.Broker.Name, "-i", "0", "-o", "3"); !strings.Contains(out, `"p3"`) {
		t.Fatalf("queryMsgByOffset:\n%s", out)
	}
	if code, _, errOut := runAdmin(t, nil, "resetOffsetByTime", "-n", ns, "-g", "g", "-t", "ProgTopic", "-s", "yesterday"); code == 0 || !strings.Contains(errOut, "yesterday") {
		t.Fatalf("bad -s: exit %d %q", code, errOut)
	}
}

// TestMqadminJSONOutput checks --json on the listing commands: valid JSON with the expected fields.
func TestMqadminJSONOutput(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	ns := c.NameServers[0].Addr
	var sent struct {
		OffsetMsgID string
		QueueID     int32
	}
	if err := json.Unmarshal([]byte(mustAdmin(t, "sendMessage", "-n", ns, "-t", "JsonTopic", "-p", "j", "--json")), &sent); err != nil || sent.OffsetMsgID == "" {
		t.Fatalf("sendMessage --json: %+v %v", sent, err)
	}
	var rows []struct {
		BrokerName, Addr, Role string
		BrokerID               int64
	}
	if err := json.Unmarshal([]byte(mustAdmin(t, "clusterList", "-n", ns, "--json")), &rows); err != nil ||
		len(rows) != 1 || rows[0].Addr != c.Broker.Addr || rows[0].Role != "ASYNC_MASTER" {
		t.Fatalf("clusterList --json: %+v %v", rows, err)
	}
	var topics struct{ TopicList []string }
	if err := json.Unmarshal([]byte(mustAdmin(t, "topicList", "-n", ns, "--json")), &topics); err != nil || !strings.Contains(strings.Join(topics.TopicList, ","), "JsonTopic") {
		t.Fatalf("topicList --json: %+v %v", topics, err)
	}
	var status []struct {
		QueueID   int32
		MaxOffset int64
	}
	testutil.WaitFor(t, 10*time.Second, func() bool {
		if err := json.Unmarshal([]byte(mustAdmin(t, "topicStatus", "-n", ns, "-t", "JsonTopic", "--json")), &status); err != nil {
			t.Fatal(err)
		}
		for _, s := range status {
			if s.QueueID == sent.QueueID && s.MaxOffset == 1 {
				return true
			}
		}
		return false
	}, "topicStatus --json to show the message")
	var kv map[string]map[string]string
	if err := json.Unmarshal([]byte(mustAdmin(t, "brokerStatus", "-n", ns, "-b", c.Broker.Addr, "--json")), &kv); err != nil || kv[c.Broker.Addr]["brokerRole"] != "ASYNC_MASTER" {
		t.Fatalf("brokerStatus --json: %v %v", kv, err)
	}
}

// TestMqadminClusterRT sends to the broker-name topic of every broker set and reports the RT.
func TestMqadminClusterRT(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	var rows []struct {
		BrokerName   string
		SuccessCount int
		FailCount    int
	}
	out := mustAdmin(t, "clusterRT", "-n", c.NameServers[0].Addr, "-a", "20", "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].BrokerName != c.Broker.Name ||
		rows[0].SuccessCount != 20 || rows[0].FailCount != 0 {
		t.Fatalf("clusterRT --json: %s (%v)", out, err)
	}
	if code, _, errOut := runAdmin(t, nil, "clusterRT", "-n", c.NameServers[0].Addr, "-a", "0"); code == 0 || !strings.Contains(errOut, "-a") {
		t.Fatalf("clusterRT -a 0: exit %d %q", code, errOut)
	}
}

// TestMqadminUpdateBrokerConfig changes brokerPermission at runtime: sends are refused while the
// broker is read-only and accepted again after; keys that need a restart are refused.
func TestMqadminUpdateBrokerConfig(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	ns, br := c.NameServers[0].Addr, c.Broker.Addr
	mustAdmin(t, "sendMessage", "-n", ns, "-t", "CfgTopic", "-p", "before")
	if out := mustAdmin(t, "updateBrokerConfig", "-n", ns, "-b", br, "-k", "brokerPermission", "-v", "4"); !strings.Contains(out, "success") {
		t.Fatalf("updateBrokerConfig: %s", out)
	}
	if out := mustAdmin(t, "getBrokerConfig", "-n", ns, "-b", br); !strings.Contains(out, "brokerPermission=4") {
		t.Fatalf("getBrokerConfig after the update:\n%s", out)
	}
	testutil.WaitFor(t, 10*time.Second, func() bool {
		code, _, _ := runAdmin(t, nil, "sendMessage", "-n", ns, "-t", "CfgTopic", "-p", "refused")
		return code != 0
	}, "sends to a read-only broker to be refused")
	mustAdmin(t, "updateBrokerConfig", "-n", ns, "-b", br, "-k", "brokerPermission", "-v", "6")
	testutil.WaitFor(t, 10*time.Second, func() bool {
		code, _, _ := runAdmin(t, nil, "sendMessage", "-n", ns, "-t", "CfgTopic", "-p", "after")
		return code == 0
	}, "sends to be accepted again")
	for key, val := range map[string]string{"listenPort": "1234", "noSuchKey": "1", "brokerPermission": "9"} {
		if code, _, errOut := runAdmin(t, nil, "updateBrokerConfig", "-n", ns, "-b", br, "-k", key, "-v", val); code == 0 || !strings.Contains(errOut, key) {
			t.Errorf("updateBrokerConfig %s=%s: exit %d %q", key, val, code, errOut)
		}
	}
}

// TestMqadminJSONEveryListingCommand runs every command that has --json and checks that it prints
// one valid JSON document carrying the expected data.
func TestMqadminJSONEveryListingCommand(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	ns, br := c.NameServers[0].Addr, c.Broker.Addr
	var sent struct{ MsgID, OffsetMsgID, BrokerName string }
	if err := json.Unmarshal([]byte(mustAdmin(t, "sendMessage", "-n", ns, "-t", "JTopic", "-p", "jbody", "-k", "jkey", "-i", "0", "--json")), &sent); err != nil {
		t.Fatal(err)
	}
	// A live consumer and producer (a heartbeat on a connection kept open), with a committed offset.
	cli := rpc.New(rpc.Config{})
	defer cli.Close()
	hb, _ := json.Marshal(map[string]any{"clientID": "127.0.0.1@json", "producerDataSet": []any{map[string]any{"groupName": "jProducers"}},
		"consumerDataSet": []any{map[string]any{"groupName": "jGroup", "consumeType": "CONSUME_PASSIVELY", "messageModel": "CLUSTERING",
			"subscriptionDataSet": []any{map[string]any{"topic": "JTopic", "subString": "*"}}}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r, err := cli.Invoke(ctx, br, remoting.NewRequest(remoting.HeartBeat, nil, hb)); err != nil || r.Code != 0 {
		t.Fatalf("heartbeat: %v %v", r, err)
	}
	if r, err := cli.Invoke(ctx, br, remoting.NewRequest(remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "jGroup", "topic": "JTopic", "queueId": "0", "commitOffset": "0"}, nil)); err != nil || r.Code != 0 {
		t.Fatalf("commit: %v %v", r, err)
	}
	testutil.WaitFor(t, 10*time.Second, func() bool {
		code, out, _ := runAdmin(t, nil, "queryMsgByKey", "-n", ns, "-t", "JTopic", "-k", "jkey")
		return code == 0 && strings.Contains(out, "jbody")
	}, "the message to be indexed")
	testutil.WaitFor(t, 10*time.Second, func() bool {
		code, _, _ := runAdmin(t, nil, "consumerProgress", "-n", ns, "-g", "jGroup")
		return code == 0
	}, "the retry topic route of jGroup")
	for _, args := range [][]string{
		{"clusterList"}, {"topicList"}, {"brokerStatus", "-b", br}, {"topicStatus", "-t", "JTopic"},
		{"consumeMessage", "-t", "JTopic"}, {"consumerProgress", "-g", "jGroup"},
		{"consumerConnection", "-g", "jGroup"}, {"producerConnection", "-g", "jProducers", "-t", "JTopic"},
		{"queryMsgById", "-i", sent.OffsetMsgID}, {"queryMsgByKey", "-t", "JTopic", "-k", "jkey"},
		{"queryMsgByUniqueKey", "-t", "JTopic", "-i", sent.MsgID},
		{"queryMsgByOffset", "-t", "JTopic", "-b", sent.BrokerName, "-i", "0", "-o", "0"},
		{"resetOffsetByTime", "-g", "jGroup", "-t", "JTopic", "-s", "0"}, {"clusterRT", "-a", "3"},
	} {
		out := mustAdmin(t, append(append(args, "-n", ns), "--json")...)
		if !json.Valid([]byte(out)) || len(strings.TrimSpace(out)) < 3 {
			t.Errorf("%s --json printed no valid JSON document:\n%s", args[0], out)
		}
		if (strings.HasPrefix(args[0], "queryMsg") || args[0] == "consumeMessage") && !strings.Contains(out, "JTopic") {
			t.Errorf("%s --json lacks the message:\n%s", args[0], out)
		}
		if (args[0] == "consumerConnection" || args[0] == "producerConnection") && !strings.Contains(out, "127.0.0.1@json") {
			t.Errorf("%s --json lacks the client:\n%s", args[0], out)
		}
	}
}

// TestMqadminBadInputEveryCommand gives every command a bad value or an unknown name: each exits
// non-zero with a one-line reason that names what was wrong.
func TestMqadminBadInputEveryCommand(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	ns, br := c.NameServers[0].Addr, c.Broker.Addr
	dead := testutil.DeadAddr(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clusterList", "-c", "NoSuchCluster"}, "NoSuchCluster"},
		{[]string{"topicStatus", "-t", "NoSuchTopic"}, "NoSuchTopic"},
		{[]string{"consumerProgress", "-g", "NoSuchGroup"}, "NoSuchGroup"},
		{[]string{"producerConnection", "-g", "g", "-t", "NoSuchTopic"}, "NoSuchTopic"},
		{[]string{"consumeMessage", "-t", "NoSuchTopic"}, "NoSuchTopic"},
		{[]string{"queryMsgByOffset", "-t", "NoSuchTopic", "-b", "x", "-i", "0", "-o", "0"}, "NoSuchTopic"},
		{[]string{"queryMsgByUniqueKey", "-t", "NoSuchTopic", "-i", "abc"}, "NoSuchTopic"},
		{[]string{"updateSubGroup", "-g", "g"}, "-b"},
		{[]string{"deleteSubGroup", "-g", "g", "-b", dead}, dead},
		{[]string{"getBrokerConfig", "-b", dead}, dead},
		{[]string{"updateBrokerConfig", "-b", br, "-k", "brokerPermission", "-v", "seven"}, "brokerPermission"},
		{[]string{"wipeWritePerm"}, "brokerName"},
		{[]string{"addWritePerm"}, "brokerName"},
		{[]string{"brokerStatus", "-b", dead}, dead},
		{[]string{"sendMessage", "-t", "T"}, "body"},
		{[]string{"clusterRT", "-s", "-1"}, "-s"},
	} {
		code, out, errOut := runAdmin(t, nil, append(tc.args, "-n", ns)...)
		line := strings.TrimSpace(errOut)
		if code == 0 || !strings.Contains(line, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want a non-zero exit naming %q", tc.args, code, line, out, tc.want)
		}
	}
	// An unreachable name server is named too.
	if code, _, errOut := runAdmin(t, nil, "topicList", "-n", dead); code == 0 || !strings.Contains(errOut, dead) {
		t.Errorf("topicList against a dead name server: exit %d %q", code, errOut)
	}
}
