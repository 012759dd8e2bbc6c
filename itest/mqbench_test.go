package itest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/internal/testutil"
)

// TestMqbenchProducerAndConsumer runs the benchmark tool against a real cluster: a counted
// producer run reports every message sent with no failure, per-second lines go to stderr, and
// the consumer reads them all back.
func TestMqbenchProducerAndConsumer(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	dir := t.TempDir()
	bench := filepath.Join(dir, "mqbench")
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", bench, "./cmd/mqbench")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build mqbench: %v\n%s", err, out)
	}
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	run := func(args ...string) (map[string]any, string) {
		cmd := exec.Command(bench, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("mqbench %v: %v\n%s", args, err, errb.String())
		}
		var sum map[string]any
		if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
			t.Fatalf("mqbench %v summary: %v\n%s", args, err, out.String())
		}
		return sum, errb.String()
	}
	ns := c.NameServers[0].Addr
	sum, _ := run("producer", "-n", ns, "-t", "BenchTopic", "-c", "3000", "-w", "4", "-s", "256", "--json")
	if sum["messages"].(float64) != 3000 || sum["failures"].(float64) != 0 || sum["msgPerSec"].(float64) <= 0 || sum["p99Ms"].(float64) <= 0 {
		t.Fatalf("producer summary: %v", sum)
	}
	sum, _ = run("producer", "-n", ns, "-t", "BenchTopic", "-c", "1000", "-w", "2", "-b", "10", "--async", "--json")
	if sum["messages"].(float64) != 1000 || sum["failures"].(float64) != 0 {
		t.Fatalf("async batch producer summary: %v", sum)
	}
	// Each producer run sends one warm-up message (the first auto-creates the topic); they are
	// read back too.
	sum, stderr := run("consumer", "-n", ns, "-t", "BenchTopic", "--from-start", "-c", "4002", "-d", "30s", "--json")
	if sum["messages"].(float64) != 4002 {
		t.Fatalf("consumer summary: %v\n%s", sum, stderr)
	}
	if code, _, errOut := runAdminLike(bench, "producer", "-n", ns, "-s", "0"); code == 0 || !strings.Contains(errOut, "-s") {
		t.Fatalf("mqbench producer -s 0: exit %d %q", code, errOut)
	}
}

func runAdminLike(bin string, args ...string) (int, string, string) {
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	return 0, out.String(), errb.String()
}
