package main

import (
	"strings"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

func TestDeleteTopic(t *testing.T) {
	ns, br := fakeCluster(t)
	br.Handle(remoting.DeleteTopicInBroker, remoting.Success, "", "")
	ns.Handle(remoting.DeleteTopicInNamesrv, remoting.Success, "", "")
	code, out, errOut := mqadmin(t, "deleteTopic", "-n", ns.Addr(), "-c", "C1", "-t", "T1")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	if out != "delete topic [T1] from cluster [C1] success.\ndelete topic [T1] from NameServer success.\n" {
		t.Fatalf("out %q", out)
	}
	if len(br.Requests(remoting.DeleteTopicInBroker)) != 1 || len(ns.Requests(remoting.DeleteTopicInNamesrv)) != 1 {
		t.Fatal("215 or 216 not sent")
	}
}

func TestDeleteTopicNeedsCluster(t *testing.T) {
	ns, _ := fakeCluster(t)
	code, _, errOut := mqadmin(t, "deleteTopic", "-n", ns.Addr(), "-t", "T1")
	if code != 1 || !strings.Contains(errOut, `"clusterName"`) {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
