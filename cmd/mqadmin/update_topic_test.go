package main

import (
	"strings"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

func TestUpdateTopicOnCluster(t *testing.T) {
	ns, br := fakeCluster(t)
	br.Handle(remoting.UpdateAndCreateTopic, remoting.Success, "", "")
	code, out, errOut := mqadmin(t, "updateTopic", "-n", ns.Addr(), "-c", "C1", "-t", "T1", "-r", "4", "-w", "2", "-p", "4", "-o")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	want := "create topic to " + br.Addr() + " success.\nTopicConfig [topicName=T1, readQueueNums=4, writeQueueNums=2, perm=R--, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=true]\n"
	if out != want {
		t.Fatalf("out %q\nwant %q", out, want)
	}
	got := br.Requests(remoting.UpdateAndCreateTopic)
	if len(got) != 1 || got[0].ExtFields["readQueueNums"] != "4" || got[0].ExtFields["writeQueueNums"] != "2" ||
		got[0].ExtFields["perm"] != "4" || got[0].ExtFields["order"] != "true" {
		t.Fatalf("requests %v", got)
	}
}

func TestUpdateTopicOnBrokerDefaults(t *testing.T) {
	ns, br := fakeCluster(t)
	br.Handle(remoting.UpdateAndCreateTopic, remoting.Success, "", "")
	code, out, errOut := mqadmin(t, "updateTopic", "-n", ns.Addr(), "-b", br.Addr(), "-t", "T2")
	if code != 0 || !strings.Contains(out, "readQueueNums=8, writeQueueNums=8, perm=RW-") {
		t.Fatalf("code %d, out %q, stderr %q", code, out, errOut)
	}
}

func TestUpdateTopicBadInput(t *testing.T) {
	ns, br := fakeCluster(t)
	br.Handle(remoting.UpdateAndCreateTopic, remoting.SystemError, "The topic[TBW102] is conflict with system topic.", "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-t", "T"}, "one of -b brokerAddr or -c clusterName"},
		{[]string{"-t", "T", "-b", br.Addr(), "-c", "C1"}, "not both"},
		{[]string{"-t", "T", "-c", "Nope"}, `"Nope"`},
		{[]string{"-t", "T", "-b", br.Addr(), "-p", "7"}, "perm"},
		{[]string{"-t", "T", "-b", br.Addr(), "-r", "0"}, "queue numbers"},
		{[]string{"-t", "TBW102", "-b", br.Addr()}, "conflict with system topic"},
		{[]string{"-b", br.Addr()}, `"topic"`},
	}
	for _, c := range cases {
		code, out, errOut := mqadmin(t, append([]string{"updateTopic", "-n", ns.Addr()}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("updateTopic %v: code %d, stdout %q, stderr %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
}
