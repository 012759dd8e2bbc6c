package main

import (
	"strings"
	"testing"
)

func TestClusterList(t *testing.T) {
	ns, br := fakeCluster(t)
	code, out, errOut := mqadmin(t, "clusterList", "-n", ns.Addr())
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want header + 1 row, got %q", out)
	}
	for _, h := range []string{"#Cluster Name", "#Broker Name", "#BID", "#Addr", "#Version", "#InTPS(LOAD)", "#OutTPS(LOAD)", "#PCWait(ms)", "#Hour", "#SPACE", "#Role", "#Lag(bytes)"} {
		if !strings.Contains(lines[0], h) {
			t.Errorf("header %q lacks %q", lines[0], h)
		}
	}
	f := strings.Fields(lines[1])
	if len(f) < 8 || f[0] != "C1" || f[1] != "broker-a" || f[2] != "0" || f[3] != br.Addr() || f[4] != "Skiff" {
		t.Fatalf("row %q", lines[1])
	}
	if !strings.Contains(lines[1], "12.50(0,0ms)") || !strings.Contains(lines[1], "0.1234") {
		t.Fatalf("row %q lacks TPS or disk ratio", lines[1])
	}
	// Fixed width: the broker name column starts at the same offset in both lines.
	if strings.Index(lines[0], "#Broker Name") != strings.Index(lines[1], "broker-a") {
		t.Fatalf("columns not aligned:\n%s\n%s", lines[0], lines[1])
	}
}

func TestClusterListUnknownCluster(t *testing.T) {
	ns, _ := fakeCluster(t)
	code, _, errOut := mqadmin(t, "clusterList", "-n", ns.Addr(), "-c", "Nope")
	if code != 1 || !strings.Contains(errOut, `"Nope"`) {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
