package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// mqadmin runs the app in-process and returns the exit code, stdout and stderr.
func mqadmin(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"mqadmin"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// fakeCluster is a fake name server listing one broker (a fake too) in cluster C1.
func fakeCluster(t *testing.T) (ns, br *testutil.FakeServer) {
	t.Helper()
	ns, br = testutil.NewFakeServer(t), testutil.NewFakeServer(t)
	ns.Handle(remoting.GetBrokerClusterInfo, remoting.Success, "",
		`{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"`+br.Addr()+`"},"brokerName":"broker-a","cluster":"C1"}},"clusterAddrTable":{"C1":["broker-a"]}}`)
	br.Handle(remoting.GetBrokerRuntimeInfo, remoting.Success, "",
		`{"table":{"brokerVersionDesc":"Skiff 0.1","putTps":"12.50 1 1","getTransferedTps":"3.00 1 1","commitLogDiskRatio":"0.1234","pageCacheLockTimeMills":"0","earliestMessageTimeStamp":"0"}}`)
	return ns, br
}

func TestNoArgsPrintsHelp(t *testing.T) {
	code, out, _ := mqadmin(t)
	if code != 0 || !strings.Contains(out, "clusterList") || !strings.Contains(out, "updateTopic") {
		t.Fatalf("code %d, out %q", code, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, errOut := mqadmin(t, "bogusCommand")
	if code != 1 || !strings.Contains(errOut, `unknown command "bogusCommand"`) {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, cmd := range []string{"clusterList", "topicList", "topicRoute", "updateTopic", "deleteTopic", "brokerStatus"} {
		code, out, _ := mqadmin(t, cmd, "--help")
		if code != 0 || !strings.Contains(out, "mqadmin "+cmd) || !strings.Contains(out, "--namesrvAddr") || !strings.Contains(out, "NAMESRV_ADDR") {
			t.Errorf("%s --help: code %d, out %q", cmd, code, out)
		}
	}
}

func TestNoNameServer(t *testing.T) {
	t.Setenv("NAMESRV_ADDR", "")
	code, _, errOut := mqadmin(t, "topicList")
	if code != 1 || !strings.Contains(errOut, "NAMESRV_ADDR") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

func TestUnreachableNameServerOneLine(t *testing.T) {
	dead := testutil.DeadAddr(t)
	code, out, errOut := mqadmin(t, "topicList", "-n", dead)
	if code != 1 || out != "" {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	if !strings.HasPrefix(errOut, "mqadmin: ") || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, dead) {
		t.Fatalf("stderr %q: want one line naming %s", errOut, dead)
	}
}

func TestNamesrvFromEnv(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	ns.Handle(remoting.GetAllTopicListFromNameServer, remoting.Success, "", `{"topicList":["B","A"]}`)
	t.Setenv("NAMESRV_ADDR", ns.Addr())
	code, out, errOut := mqadmin(t, "topicList")
	if code != 0 || out != "A\nB\n" {
		t.Fatalf("code %d, out %q, err %q", code, out, errOut)
	}
}

func TestUnexpectedArgument(t *testing.T) {
	ns := testutil.NewFakeServer(t)
	code, _, errOut := mqadmin(t, "topicList", "-n", ns.Addr(), "extra")
	if code != 1 || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
