package main

import (
	"strings"
	"testing"
)

func TestBrokerStatus(t *testing.T) {
	ns, br := fakeCluster(t)
	code, out, errOut := mqadmin(t, "brokerStatus", "-n", ns.Addr(), "-b", br.Addr())
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("want 6 lines, got %q", out)
	}
	if lines[0] != "brokerVersionDesc               : Skiff 0.1" {
		t.Fatalf("first line %q", lines[0])
	}
	code, out, _ = mqadmin(t, "brokerStatus", "-n", ns.Addr(), "-c", "C1")
	if code != 0 || !strings.Contains(out, "putTps                          : 12.50 1 1") {
		t.Fatalf("-c: code %d, out %q", code, out)
	}
}

func TestBrokerStatusUnreachableBroker(t *testing.T) {
	ns, _ := fakeCluster(t)
	code, _, errOut := mqadmin(t, "brokerStatus", "-n", ns.Addr(), "-b", "127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
