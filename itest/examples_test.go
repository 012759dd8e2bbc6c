package itest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/internal/testutil"
)

// exampleNames are the programs under client/examples.
var exampleNames = []string{"producer", "consumer", "orderly", "delay", "transaction", "batch", "broadcast", "pull"}

// exampleTimeout bounds one run of an example.
const exampleTimeout = 60 * time.Second

// buildExamples builds every example into a temporary folder and returns it.
func buildExamples(t *testing.T) string {
	t.Helper()
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, n := range exampleNames {
		args = append(args, "./client/examples/"+n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return dir
}

// exampleCmd is an example's command line: SIGINT when its time is up (the examples shut down
// gracefully on it), SIGKILL 5 s later.
func exampleCmd(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(dir, name), args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runExample runs an example to its end and returns its standard output; it fails the test
// unless the example exits 0 within exampleTimeout.
func runExample(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exampleTimeout)
	defer cancel()
	cmd := exampleCmd(ctx, dir, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s (%v):\n%s%s", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v", name, exampleTimeout)
	}
	if err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// exampleLines returns the lines of out that match re, each as its submatches.
func exampleLines(out, re string) [][]string {
	return regexp.MustCompile(`(?m)`+re).FindAllStringSubmatch(out, -1)
}

// TestSDKExamples builds the programs under client/examples and runs each against one real
// cluster (fast delay levels and transaction checks), checking exit codes and output.
func TestSDKExamples(t *testing.T) {
	needProcesses(t)
	begin := time.Now()
	dir := buildExamples(t)
	t.Logf("examples built in %v", time.Since(begin).Round(time.Millisecond))
	c := sdkCluster(t, map[string]string{"transactionCheckInterval": "1000", "transactionTimeOut": "1000"})
	ns := c.NamesrvAddr
	t.Cleanup(func() { t.Logf("TestSDKExamples took %v", time.Since(begin).Round(time.Millisecond)) })

	t.Run("producer and consumer", func(t *testing.T) {
		out := runExample(t, dir, "producer", "-n", ns, "-t", "ExSimple", "-c", "10")
		if got := len(exampleLines(out, `^sent \d+: status=SEND_OK msgId=\S+ queue=ExSimple@`)); got != 10 {
			t.Fatalf("producer printed %d SEND_OK results, want 10", got)
		}
		out = runExample(t, dir, "consumer", "-n", ns, "-t", "ExSimple", "-g", "ExSimpleGroup", "-c", "10", "--timeout", "30s")
		bodies := exampleLines(out, `^received \d+: .* body="(Hello Skiff \d+)"$`)
		if len(bodies) != 10 || !strings.Contains(out, "received 10 messages") {
			t.Fatalf("consumer printed %d messages, want 10", len(bodies))
		}
		for i := range 10 {
			if !slices.ContainsFunc(bodies, func(m []string) bool { return m[1] == fmt.Sprintf("Hello Skiff %d", i) }) {
				t.Fatalf("message %d not consumed", i)
			}
		}
	})

	t.Run("consumer timeout and signal", func(t *testing.T) {
		runExample(t, dir, "producer", "-n", ns, "-t", "ExSignal", "-c", "1")
		// Waiting for more than there is: a clear error and exit 1 on timeout.
		ctx, cancel := context.WithTimeout(context.Background(), exampleTimeout)
		defer cancel()
		cmd := exampleCmd(ctx, dir, "consumer", "-n", ns, "-t", "ExSignal", "-g", "ExSignalGroup", "-c", "2", "--timeout", "3s")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || len(exampleLines(string(out), `^consumer: timed out after 3s: received [01] of 2 messages$`)) != 1 {
			t.Fatalf("consumer past its timeout: %v, want exit 1 and a timeout message:\n%s", err, out)
		}
		// SIGTERM while waiting: the consumer shuts down and exits 1, saying it was interrupted
		// (its own 50 s timeout would say "timed out").
		cmd = exampleCmd(ctx, dir, "consumer", "-n", ns, "-t", "ExSignal", "-g", "ExSignalGroup2", "-c", "5", "--timeout", "50s")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "received 1:") {
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() {
		}
		err = cmd.Wait()
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "interrupted: received 1 of 5 messages") {
			t.Fatalf("consumer after SIGTERM: %v, want exit 1 and an interrupted message; stderr:\n%s", err, stderr.String())
		}
	})

	t.Run("batch", func(t *testing.T) {
		out := runExample(t, dir, "batch", "-n", ns, "-t", "ExBatch", "-c", "10", "-b", "4")
		batches := exampleLines(out, `^sent batch \d+ \(messages (\d+)-(\d+)\): status=SEND_OK queue=ExBatch@\S+ queueOffsets=(\d+)-(\d+) msgIds=(\S+)$`)
		if len(batches) != 3 {
			t.Fatalf("batch printed %d batch results, want 3 (4+4+2)", len(batches))
		}
		for _, b := range batches {
			first, _ := strconv.Atoi(b[1])
			last, _ := strconv.Atoi(b[2])
			lo, _ := strconv.Atoi(b[3])
			hi, _ := strconv.Atoi(b[4])
			if n := strings.Count(b[5], ",") + 1; n != last-first+1 || hi-lo != last-first {
				t.Fatalf("batch %s-%s: %d ids, offsets %d-%d", b[1], b[2], n, lo, hi)
			}
		}
		out = runExample(t, dir, "consumer", "-n", ns, "-t", "ExBatch", "-g", "ExBatchGroup", "-c", "10", "--timeout", "30s")
		if got := len(exampleLines(out, `^received \d+: .* body="batch message \d+"$`)); got != 10 {
			t.Fatalf("consumer got %d batch messages, want 10", got)
		}
	})

	t.Run("pull", func(t *testing.T) {
		runExample(t, dir, "producer", "-n", ns, "-t", "ExPull", "-c", "10", "--async")
		// The broker builds consume queues asynchronously after it answered the sends: the
		// example reads each queue's max offset once, so wait until all 10 are dispatched.
		waitDispatched(t, ns, "ExPull", 10)
		out := runExample(t, dir, "pull", "-n", ns, "-t", "ExPull", "-g", "ExPullGroup", "-c", "10", "--timeout", "30s")
		if got := len(exampleLines(out, `^pulled \d+: queue=\d+ offset=\d+ .*body="Hello Skiff \d+"$`)); got != 10 {
			t.Fatalf("pull printed %d messages, want 10", got)
		}
		if got := len(exampleLines(out, `^committed offset \d+ of queue \d+$`)); got != 4 {
			t.Fatalf("first pull run committed %d offsets, want 4 (one per queue)", got)
		}
		// The offsets were committed: a second run starts at each queue's end and finds nothing.
		out = runExample(t, dir, "pull", "-n", ns, "-t", "ExPull", "-g", "ExPullGroup", "-c", "0", "--timeout", "30s")
		starts := exampleLines(out, `^queue \S+: starting at (\d+), the committed offset; max offset (\d+)$`)
		if len(starts) != 4 || !strings.Contains(out, "pulled 0 messages") {
			t.Fatal("second pull run did not resume at the committed offsets")
		}
		for _, m := range starts {
			if m[1] != m[2] || m[1] == "0" {
				t.Fatalf("second pull run started a queue at %s, its end is %s", m[1], m[2])
			}
		}
	})

	t.Run("orderly", func(t *testing.T) {
		out := runExample(t, dir, "orderly", "-n", ns, "-t", "ExOrderly", "-g", "ExOrderlyGroup", "--orders", "5", "--timeout", "30s")
		if !strings.Contains(out, "all 5 orders arrived in order") {
			t.Fatal("orderly did not report every order in order")
		}
		next := map[string]int{}
		queue := map[string]string{}
		for _, m := range exampleLines(out, `^received (order-\d+) step (\d)/4 \(\w+\): queue=(\d+) `) {
			step, _ := strconv.Atoi(m[2])
			if step <= next[m[1]] {
				continue // a redelivery
			}
			if step != next[m[1]]+1 {
				t.Fatalf("%s: step %d after step %d", m[1], step, next[m[1]])
			}
			if q, ok := queue[m[1]]; ok && q != m[3] {
				t.Fatalf("%s: steps from queues %s and %s", m[1], q, m[3])
			}
			next[m[1]], queue[m[1]] = step, m[3]
		}
		for o := 1; o <= 5; o++ {
			order := fmt.Sprintf("order-%d", o)
			if next[order] != 4 {
				t.Fatalf("%s: %d of 4 steps consumed", order, next[order])
			}
			if !strings.Contains(out, order+" (queue "+queue[order]+"): created -> paid -> shipped -> delivered\n") {
				t.Fatalf("%s: no summary line", order)
			}
		}
	})

	t.Run("delay", func(t *testing.T) {
		// The default level, 2, is 2 s with the test's messageDelayLevel.
		out := runExample(t, dir, "delay", "-n", ns, "-t", "ExDelay", "-g", "ExDelayGroup", "-c", "3", "--timeout", "30s")
		if got := len(exampleLines(out, `^sent \d+ at \S+ with delay level 2: status=SEND_OK`)); got != 3 {
			t.Fatalf("delay sent %d messages with level 2, want 3", got)
		}
		delays := exampleLines(out, `^received \d+: level=2 delay=(\S+) `)
		if len(delays) != 3 || !strings.Contains(out, "received all 3 delayed messages") {
			t.Fatalf("delay printed %d received messages, want 3", len(delays))
		}
		for _, m := range delays {
			d, err := time.ParseDuration(m[1])
			if err != nil || d < 2*time.Second {
				t.Fatalf("observed delay %s (%v), want at least the 2 s of level 2", m[1], err)
			}
		}
	})

	t.Run("transaction", func(t *testing.T) {
		out := runExample(t, dir, "transaction", "-n", ns, "-t", "ExTransaction", "-g", "ExTxProducerGroup",
			"--consumer-group", "ExTxConsumerGroup", "-c", "10", "--timeout", "45s", "--grace", "2s")
		states := map[int]string{}
		for _, m := range exampleLines(out, `^sent id (\d+): msgId=\S+ queue=\S+ local transaction: (\w+)$`) {
			id, _ := strconv.Atoi(m[1])
			states[id] = m[2]
		}
		for id := range 10 {
			want := "ROLLBACK"
			switch {
			case id%5 == 0:
				want = "UNKNOWN"
			case id%2 == 0:
				want = "COMMIT"
			}
			if states[id] != want {
				t.Fatalf("id %d: local transaction %q, want %q", id, states[id], want)
			}
		}
		for _, id := range []int{0, 5} {
			if !strings.Contains(out, fmt.Sprintf("check-back for id %d ", id)) {
				t.Fatalf("no check-back for id %d", id)
			}
		}
		var got []int
		for _, m := range exampleLines(out, `^received id (\d+) \(([^)]*)\)`) {
			id, _ := strconv.Atoi(m[1])
			if strings.Contains(m[2], "ROLLED BACK") {
				t.Fatalf("rolled-back id %d was delivered", id)
			}
			if !slices.Contains(got, id) {
				got = append(got, id)
			}
		}
		slices.Sort(got)
		if want := []int{0, 2, 4, 5, 6, 8}; !slices.Equal(got, want) {
			t.Fatalf("delivered ids %v, want %v", got, want)
		}
		if !strings.Contains(out, "delivered: [0 2 4 5 6 8]; rolled back and not delivered: [1 3 7 9]") {
			t.Fatal("no summary line")
		}
	})

	t.Run("broadcast", func(t *testing.T) {
		out := runExample(t, dir, "broadcast", "-n", ns, "-t", "ExBroadcast", "-g", "ExBroadcastGroup", "-c", "10", "--timeout", "30s")
		for _, who := range []string{"A", "B"} {
			got := map[string]bool{}
			for _, m := range exampleLines(out, `^\[`+who+`\] received \d+/10: (broadcast message \d+) `) {
				got[m[1]] = true
			}
			if len(got) != 10 {
				t.Fatalf("consumer %s printed %d distinct messages, want 10", who, len(got))
			}
		}
		if !strings.Contains(out, "both consumers received all 10 messages") {
			t.Fatal("no summary line")
		}
		if got := len(exampleLines(out, `^consumer [AB] \(client id \S+\) keeps its offsets in `+regexp.QuoteMeta(os.TempDir()))); got != 2 {
			t.Fatalf("%d consumers report an offset file under %s, want 2", got, os.TempDir())
		}
	})
}

// waitDispatched waits until topic's consume queues hold n entries in total.
func waitDispatched(t *testing.T, ns, topic string, n int64) {
	t.Helper()
	pc, err := consumer.NewPullConsumer("ExamplesWaitDispatch", consumer.WithNameServers(ns))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, 20*time.Second, fmt.Sprintf("%d messages of %s in the consume queues", n, topic), func() bool {
		qs, err := pc.Queues(ctx, topic)
		if err != nil {
			return false
		}
		sum := int64(0)
		for _, q := range qs {
			m, err := pc.MaxOffset(ctx, q)
			if err != nil {
				return false
			}
			sum += m
		}
		return sum == n
	})
}
