package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/skiffmq/skiff/internal/testutil"
)

// chromiumPath returns Debian's Chromium (or $SKIFF_CHROMIUM). Without it the browser tests
// skip, except under CI=true, where they fail: CI must run them (.ci/run installs chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("SKIFF_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found at %s (%v): CI must run the dashboard's browser tests; .ci/run installs Debian's chromium", p, err)
		}
		t.Skipf("Chromium not found at %s; install Debian's chromium (or set SKIFF_CHROMIUM) to run the browser tests", p)
	}
	return p
}

// newBrowser starts headless Chromium with a fresh profile and the flags that keep it off the
// network (only loopback is reachable here); it is killed when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.Flag("mute-audio", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// browse runs steps with a deadline.
func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, ctx, what, chromedp.Steps(steps...))
}

// run runs one action with a deadline and returns its value.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		lc, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(lc, chromedp.Location())
		t.Fatalf("%s: %v (at %s)", what, err, loc)
	}
	return v
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return run(t, ctx, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// pageText returns the visible text of the selector's first match.
func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return run(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// waitText polls until the selector's text contains want (htmx swaps and sampler updates).
func waitText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	var s string
	testutil.WaitFor(t, 20*time.Second, func() bool {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var err error
		s, err = chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
		return err == nil && strings.Contains(s, want)
	}, fmt.Sprintf("%s to show %q", sel, want))
	return s
}

// artifactDir is where screenshots go: $SKIFF_TEST_ARTIFACTS or build/test-artifacts/dashboard.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SKIFF_TEST_ARTIFACTS")
	if dir == "" {
		root, err := testutil.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "build", "test-artifacts")
	}
	dir = filepath.Join(dir, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves the whole page as <name>.png in the artifact folder.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(artifactDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// writeMetadata writes a broker's config/<name>.json before it starts (a cluster with thousands
// of topics or groups without thousands of create requests).
func writeMetadata(t testing.TB, storeDir, name, tableKey string, table map[string]any) {
	t.Helper()
	dir := filepath.Join(storeDir, "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"dataVersion": map[string]int64{"counter": 1, "timestamp": 1}, tableKey: table})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// bigCluster starts a name server (with its HTTP port) and a broker that already holds nTopics
// topics and nGroups subscription groups, and waits until the name server lists every topic.
func bigCluster(t testing.TB, nTopics, nGroups int) (*testutil.Cluster, int) {
	t.Helper()
	store := filepath.Join(t.TempDir(), "store")
	topics := map[string]any{}
	for i := 0; i < nTopics; i++ {
		n := fmt.Sprintf("ScaleTopic-%05d", i)
		topics[n] = map[string]any{"topicName": n, "readQueueNums": 4, "writeQueueNums": 4, "perm": 6, "topicFilterType": "SINGLE_TAG"}
	}
	groups := map[string]any{}
	for i := 0; i < nGroups; i++ {
		n := fmt.Sprintf("scale-group-%04d", i)
		groups[n] = map[string]any{"groupName": n, "consumeEnable": true, "consumeFromMinEnable": true, "consumeBroadcastEnable": true,
			"retryQueueNums": 1, "retryMaxTimes": 16, "whichBrokerWhenConsumeSlowly": 1, "notifyConsumerIdsChangedEnable": true}
	}
	writeMetadata(t, store, "topics.json", "topicConfigTable", topics)
	writeMetadata(t, store, "subscriptionGroup.json", "subscriptionGroupTable", groups)
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, Namesrv: testutil.NamesrvOptions{HTTP: true},
		Broker: testutil.BrokerOptions{StoreDir: store}})
	httpPort := c.NameServers[0].HTTPPort
	testutil.WaitFor(t, 30*time.Second, func() bool {
		code, body := httpGetTB(t, "http://127.0.0.1:"+strconv.Itoa(httpPort)+"/api/topics")
		return code == 200 && strings.Count(body, "ScaleTopic-") >= nTopics
	}, "the name server to list every topic")
	return c, httpPort
}

// httpGetTB is httpGet for tests and benchmarks.
func httpGetTB(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
