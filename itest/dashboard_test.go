package itest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
	"github.com/skiffmq/skiff/internal/testutil"
)

// TestDashboardInBrowser drives the dashboard in headless Chromium against a real name server and
// broker after a known workload: every page shows the workload, and creating a topic, resetting
// a group's offsets and resending a dead-lettered message from the pages take effect (checked
// with the SDK). Screenshots of every page go to build/test-artifacts/dashboard/.
func TestDashboardInBrowser(t *testing.T) {
	needProcesses(t)
	chromiumPath(t)
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, Namesrv: testutil.NamesrvOptions{HTTP: true, DashboardSampleInterval: 1000},
		Broker: testutil.BrokerOptions{HTTP: true, Extra: map[string]string{"messageDelayLevel": sdkDelayLevels}}})
	nsHTTP, brHTTP := c.NameServers[0].HTTPPort, c.Broker.HTTPPort
	slave := startHABroker(t, t.TempDir(), c.Broker.ClusterName, c.Broker.Name, 1, "SLAVE", "ASYNC_FLUSH", c.NamesrvAddr)
	base := "http://127.0.0.1:" + strconv.Itoa(nsHTTP) + "/dashboard/"
	ctx := context.Background()
	a, err := admin.New(admin.WithNameServers(c.NamesrvList()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	// The workload: 20 keyed messages consumed by dash-group, one poison message dead-lettered
	// by dash-dlq (maxReconsumeTimes 0: its first refusal goes to %DLQ%dash-dlq).
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	createTopic(t, c, "DashTopic", 4)
	createTopic(t, c, "DashDLQ", 1)
	createTopic(t, c, "PagedTopic", 4)
	p := startProducer(t, c, producer.WithGroup("dash-producer"))
	for i := 0; i < 20; i++ {
		m := client.NewMessage("DashTopic", []byte(fmt.Sprintf("dash-body-%02d", i))).WithTags("TagA").WithKeys(fmt.Sprintf("dash-key-%02d", i))
		if _, err := p.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// More than two pages (64 a page) of the time-range search.
	const pageMsgs = 150
	for i := 0; i < pageMsgs; i++ {
		if _, err := p.Send(ctx, client.NewMessage("PagedTopic", []byte(fmt.Sprintf("page-%03d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	col := newCollector()
	dashGroup := startPush(t, "dash-group", "DashTopic", "*", col.handler("c1"), fastConsumer(c)...)
	var mu sync.Mutex
	poison := []*client.MessageExt{}
	startPush(t, "dash-dlq", "DashDLQ", "*", func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		poison = append(poison, msgs...)
		if len(poison) == 1 {
			return consumer.ConsumeRetryLater
		}
		return consumer.ConsumeSuccess
	}, append(fastConsumer(c), consumer.WithMaxReconsumeTimes(0), consumer.WithRouteInterval(time.Second))...)
	if _, err := p.Send(ctx, client.NewMessage("DashDLQ", []byte("poison")).WithKeys("poison-key")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "dash-group to consume 20 messages and commit", func() bool {
		prog, err := a.ConsumerProgress(ctx, []string{c.Broker.Addr}, "dash-group", "DashTopic")
		lag := int64(0)
		for _, q := range prog {
			lag += q.BrokerOffset - q.ConsumerOffset
		}
		return col.distinct() == 20 && err == nil && len(prog) == 4 && lag == 0
	})
	waitFor(t, 30*time.Second, "the poison message in %DLQ%dash-dlq", func() bool {
		dlq, err := a.PullMessages(ctx, "%DLQ%dash-dlq", "", -1, 0, 10)
		return err == nil && len(dlq) == 1
	})

	// The broker's in-rate is over a window that starts at its first one-second sample, so the
	// workload above (all within a second of the start) may not count: keep sending one message
	// per poll until the sampler (every second here) has seen a non-zero rate twice, and the
	// slave's acknowledgement.
	var body string
	if !testutil.Poll(30*time.Second, func() bool {
		if _, err := p.Send(ctx, client.NewMessage("LoadTopic", []byte("load"))); err != nil {
			t.Logf("send to DashLoad: %v", err)
		}
		_, body = httpGet(t, "http://127.0.0.1:"+strconv.Itoa(nsHTTP)+"/api/dashboard/overview")
		var ov struct {
			Clusters []struct {
				BrokerSets []struct {
					Brokers []struct {
						Addr     string `json:"addr"`
						LagKnown bool   `json:"replicationLagKnown"`
						Series   []struct {
							InTPS float64 `json:"inTps"`
						} `json:"series"`
					} `json:"brokers"`
				} `json:"brokerSets"`
			} `json:"clusters"`
		}
		if json.Unmarshal([]byte(body), &ov) != nil || len(ov.Clusters) != 1 || len(ov.Clusters[0].BrokerSets) != 1 {
			return false
		}
		bs := ov.Clusters[0].BrokerSets[0].Brokers
		if len(bs) != 2 || bs[0].Addr != c.Broker.Addr || bs[1].Addr != slave.addr || !bs[0].LagKnown || !bs[1].LagKnown {
			return false
		}
		busy := 0
		for _, s := range bs[0].Series {
			if s.InTPS > 0 {
				busy++
			}
		}
		return busy >= 2
	}) {
		t.Fatalf("the dashboard never showed the workload's rates and the slave's lag:\n%s", body)
	}

	b := newBrowser(t)

	t.Run("overview", func(t *testing.T) {
		row := fmt.Sprintf(`tr.broker[data-addr="%s"]`, c.Broker.Addr)
		browse(t, b, "overview", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(row)))
		txt := pageText(t, b, row)
		for _, want := range []string{"ASYNC_MASTER", "Skiff", "master", " B"} {
			if !strings.Contains(txt, want) {
				t.Errorf("overview row lacks %q: %s", want, txt)
			}
		}
		if s := pageText(t, b, fmt.Sprintf(`tr.broker[data-addr="%s"]`, slave.addr)); !strings.Contains(s, "SLAVE") {
			t.Errorf("slave row: %s", s)
		}
		browse(t, b, "TPS chart", chromedp.WaitVisible(chromedp.CSS(row+" svg.chart polyline.in")))
		if pts := eval[int](t, b, `document.querySelector('`+row+` svg.chart polyline.in').getAttribute("points").split(" ").length`); pts < 2 {
			t.Errorf("the TPS chart has %d points", pts)
		}
		if s := pageText(t, b, "h2"); !strings.Contains(s, c.Broker.ClusterName) {
			t.Errorf("overview heading %q lacks the cluster name", s)
		}
		screenshot(t, b, "overview")
	})

	t.Run("topics", func(t *testing.T) {
		browse(t, b, "topics", chromedp.Navigate(base+"topics?q=Dash"), chromedp.WaitVisible(chromedp.CSS("table.topics")))
		if s := pageText(t, b, "#topic-count"); !strings.Contains(s, "2 topics match") {
			t.Errorf("topics page: %q", s)
		}
		screenshot(t, b, "topics")
		// htmx: typing in the search box replaces the list without a page load.
		browse(t, b, "search", chromedp.Navigate(base+"topics"), chromedp.WaitVisible(chromedp.CSS("#q")),
			chromedp.SendKeys(chromedp.CSS("#q"), "DashTop"))
		waitText(t, b, "#topic-count", "1 topics match")
		if s := pageText(t, b, "table.topics tbody"); !strings.Contains(s, "DashTopic") || strings.Contains(s, "DashDLQ") {
			t.Errorf("after typing, the list shows %q", s)
		}
	})

	t.Run("create topic", func(t *testing.T) {
		browse(t, b, "create form", chromedp.Navigate(base+"topics"), chromedp.Click(chromedp.CSS("#create-topic summary")),
			chromedp.SendKeys(chromedp.CSS(`#create-topic input[name=topic]`), "DashCreated"),
			chromedp.SetValue(chromedp.CSS(`#create-topic input[name=readQueueNums]`), "3"),
			chromedp.SetValue(chromedp.CSS(`#create-topic input[name=writeQueueNums]`), "3"),
			chromedp.Click(chromedp.CSS(`#create-topic button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#action-result")))
		if s := pageText(t, b, "#action-result"); !strings.HasPrefix(s, "Done") {
			t.Fatalf("create topic: %s", s)
		}
		waitFor(t, 20*time.Second, "DashCreated to get a route with 3 write queues", func() bool {
			r, err := a.TopicRoute(ctx, "DashCreated")
			return err == nil && len(r.QueueDatas) == 1 && r.QueueDatas[0].WriteQueueNums == 3
		})
	})

	t.Run("topic", func(t *testing.T) {
		browse(t, b, "topic", chromedp.Navigate(base+"topic?topic=DashTopic"), chromedp.WaitVisible(chromedp.CSS("table.queues")))
		if s := pageText(t, b, "main p"); !strings.Contains(s, "20 messages retained") {
			t.Errorf("topic page: %q", s)
		}
		rows := eval[[]string](t, b, `[...document.querySelectorAll("tr.queue")].map(r => r.innerText)`)
		if len(rows) != 4 {
			t.Fatalf("%d queue rows: %q", len(rows), rows)
		}
		for _, r := range rows {
			if strings.Contains(r, "empty") || strings.Contains(r, "unknown") {
				t.Errorf("queue row without a retained span: %q", r)
			}
		}
		screenshot(t, b, "topic")
		// Send a test message from the page: the result links to the stored message.
		browse(t, b, "send", chromedp.SetValue(chromedp.CSS(`#send-form textarea[name=body]`), "sent from the page"),
			chromedp.SetValue(chromedp.CSS(`#send-form input[name=keys]`), "page-key"),
			chromedp.Click(chromedp.CSS(`#send-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#action-result")))
		if s := pageText(t, b, "#action-result"); !strings.HasPrefix(s, "Done") {
			t.Fatalf("send: %s", s)
		}
		waitFor(t, 10*time.Second, "the test message to be found by its key", func() bool {
			ms, err := a.QueryByKey(ctx, "DashTopic", "page-key", false, 10, 0, time.Now().Add(time.Minute).UnixMilli())
			return err == nil && len(ms) == 1 && string(ms[0].Body) == "sent from the page"
		})
	})

	t.Run("delete topic", func(t *testing.T) {
		browse(t, b, "delete", chromedp.Navigate(base+"topic?topic=DashCreated"), chromedp.Click(chromedp.CSS("details.danger summary")),
			chromedp.SendKeys(chromedp.CSS(`details.danger input[name=confirm]`), "DashCreated"),
			chromedp.Click(chromedp.CSS(`details.danger button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#action-result")))
		if s := pageText(t, b, "#action-result"); !strings.HasPrefix(s, "Done") {
			t.Fatalf("delete: %s", s)
		}
		if _, err := a.TopicRoute(ctx, "DashCreated"); !errors.Is(err, admin.ErrTopicNotExist) {
			t.Fatalf("DashCreated still has a route after the delete: %v", err)
		}
	})

	t.Run("groups", func(t *testing.T) {
		browse(t, b, "groups", chromedp.Navigate(base+"groups?q=dash"), chromedp.WaitVisible(chromedp.CSS("table.groups")))
		s := pageText(t, b, "table.groups tbody")
		if !strings.Contains(s, "dash-group") || !strings.Contains(s, "dash-dlq") || strings.Contains(s, "-1") {
			t.Errorf("groups page: %q", s)
		}
		screenshot(t, b, "groups")
	})

	t.Run("reset offset", func(t *testing.T) {
		browse(t, b, "group", chromedp.Navigate(base+"group?group=dash-group"), chromedp.WaitVisible(chromedp.CSS("table.progress")))
		if s := pageText(t, b, "main"); !strings.Contains(s, "1 connections") || !strings.Contains(s, "GO") || !strings.Contains(s, "CLUSTERING") {
			t.Errorf("group page: %q", s)
		}
		screenshot(t, b, "group")
		before := col.total()
		browse(t, b, "reset", chromedp.SetValue(chromedp.CSS(`#reset-offset select[name=topic]`), "DashTopic"),
			chromedp.SetValue(chromedp.CSS(`#reset-offset input[name=time]`), start.Format(time.RFC3339)),
			chromedp.Click(chromedp.CSS(`#reset-offset button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#action-result")))
		if s := pageText(t, b, "#action-result"); !strings.HasPrefix(s, "Done") {
			t.Fatalf("reset: %s", s)
		}
		waitFor(t, 30*time.Second, "dash-group to consume all 20 messages again", func() bool { return col.total() >= before+20 })
	})

	t.Run("producers", func(t *testing.T) {
		browse(t, b, "producers", chromedp.Navigate(base+"producers"), chromedp.WaitVisible(chromedp.CSS("table.producers")))
		row := `tr.producer[data-group="dash-producer"] td.topics`
		if s := pageText(t, b, row); !strings.Contains(s, "DashTopic") || !strings.Contains(s, "DashDLQ") || !strings.Contains(s, "LoadTopic") {
			t.Errorf("dash-producer's topics on the producers page: %q, want DashTopic, DashDLQ and LoadTopic", s)
		}
		screenshot(t, b, "producers")
		// Filter by topic from the form: only groups that sent to DashDLQ remain.
		browse(t, b, "filter by topic", chromedp.SendKeys(chromedp.CSS(`form.search input[name=topic]`), "DashDLQ"),
			chromedp.Click(chromedp.CSS(`form.search button[type=submit]`)))
		waitText(t, b, "#producer-count", "DashDLQ")
		groups := eval[[]string](t, b, `[...document.querySelectorAll("tr.producer")].map(r => r.dataset.group)`)
		if len(groups) != 1 || groups[0] != "dash-producer" {
			t.Errorf("producers that sent to DashDLQ: %q, want dash-producer alone", groups)
		}
	})

	t.Run("messages", func(t *testing.T) {
		q := fmt.Sprintf("messages?mode=time&topic=DashTopic&begin=%d&end=%d", start.UnixMilli(), time.Now().Add(time.Minute).UnixMilli())
		browse(t, b, "by time", chromedp.Navigate(base+q), chromedp.WaitVisible(chromedp.CSS("#result-count")))
		if s := pageText(t, b, "#result-count"); s != "21 messages found." { // 20 sent by the producer, 1 from the topic page
			t.Errorf("by time: %q", s)
		}
		screenshot(t, b, "messages")
		browse(t, b, "by key", chromedp.Navigate(base+"messages?mode=key&topic=DashTopic&key=dash-key-07"),
			chromedp.WaitVisible(chromedp.CSS("#result-count")))
		if s := pageText(t, b, "#result-count"); s != "1 messages found." {
			t.Fatalf("by key: %q", s)
		}
		if s := pageText(t, b, "tr.message"); !strings.Contains(s, c.Broker.Name) || !strings.Contains(s, " UTC") {
			t.Errorf("by key, the row lacks its broker %s or a UTC store time: %q", c.Broker.Name, s)
		}
		browse(t, b, "open", chromedp.Click(chromedp.CSS("tr.message a")), chromedp.WaitVisible(chromedp.CSS("#body")))
		if s := pageText(t, b, "#body"); s != "dash-body-07" {
			t.Errorf("message body %q", s)
		}
		if s := pageText(t, b, "#keys"); s != "dash-key-07" {
			t.Errorf("message keys %q", s)
		}
		screenshot(t, b, "message")
		id := pageText(t, b, "#offset-id")
		browse(t, b, "hex", chromedp.Navigate(base+"message?view=hex&id="+id), chromedp.WaitVisible(chromedp.CSS("#body")))
		if s := pageText(t, b, "#body"); !strings.Contains(s, "64 61 73 68 2d") {
			t.Errorf("hex body %q", s)
		}
		browse(t, b, "by id", chromedp.Navigate(base+"messages?mode=id&id="+id), chromedp.WaitVisible(chromedp.CSS("#result-count")))
		if s := pageText(t, b, "#result-count"); s != "1 messages found." {
			t.Errorf("by id: %q", s)
		}
	})

	t.Run("messages pages", func(t *testing.T) {
		// begin in the pages' own form (UTC written out), end in RFC 3339.
		q := url.Values{"mode": {"time"}, "topic": {"PagedTopic"}, "begin": {start.Format("2006-01-02 15:04:05 UTC")},
			"end": {time.Now().UTC().Add(time.Minute).Format(time.RFC3339)}}
		next := base + "messages?" + q.Encode()
		seen := map[string]bool{}
		var sizes []int
		for page := 1; next != "" && page <= 5; page++ {
			browse(t, b, fmt.Sprintf("page %d", page), chromedp.Navigate(next), chromedp.WaitVisible(chromedp.CSS("#result-count")))
			ids := eval[[]string](t, b, `[...document.querySelectorAll("tr.message a")].map(a => a.innerText)`)
			for _, id := range ids {
				if seen[id] {
					t.Errorf("page %d shows %s again", page, id)
				}
				seen[id] = true
			}
			sizes = append(sizes, len(ids))
			stored := eval[[]string](t, b, `[...document.querySelectorAll("tr.message td:nth-child(8)")].map(td => td.innerText)`)
			for _, s := range stored {
				if _, err := time.Parse("2006-01-02 15:04:05.000 MST", s); err != nil || !strings.HasSuffix(s, " UTC") {
					t.Errorf("store time %q is not shown as YYYY-MM-DD HH:MM:SS.mmm UTC", s)
				}
			}
			if page == 1 {
				screenshot(t, b, "messages-pages")
			}
			next = eval[string](t, b, `(document.querySelector("#next-page") || {href: ""}).href`)
		}
		if fmt.Sprint(sizes) != "[64 64 22]" || len(seen) != pageMsgs {
			t.Errorf("paging through DashPage showed pages of %v, %d distinct messages; want [64 64 22], %d", sizes, len(seen), pageMsgs)
		}
	})

	t.Run("dlq resend", func(t *testing.T) {
		browse(t, b, "dlq", chromedp.Navigate(base+"dlq?group=dash-dlq"), chromedp.WaitVisible(chromedp.CSS("tr.dlq-message")))
		if s := pageText(t, b, "tr.dlq-message"); !strings.Contains(s, "poison") || !strings.Contains(s, "DashDLQ") {
			t.Errorf("dlq row %q", s)
		}
		screenshot(t, b, "dlq")
		browse(t, b, "resend", chromedp.Click(chromedp.CSS(`tr.dlq-message input[type=checkbox]`)),
			chromedp.Click(chromedp.CSS("#dlq-resend")), chromedp.WaitVisible(chromedp.CSS("#action-result")))
		if s := pageText(t, b, "#action-result"); !strings.HasPrefix(s, "Done") {
			t.Fatalf("resend: %s", s)
		}
		waitFor(t, 30*time.Second, "dash-dlq to get the poison message again", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(poison) >= 2
		})
		mu.Lock()
		got := poison[1]
		mu.Unlock()
		if string(got.Body) != "poison" || got.Topic != "DashDLQ" || strings.Join(got.Keys, " ") != "poison-key" {
			t.Errorf("resent message arrived as topic %q body %q keys %v", got.Topic, got.Body, got.Keys)
		}
	})

	t.Run("config and name servers", func(t *testing.T) {
		browse(t, b, "config", chromedp.Navigate(base+"config?q=broker"), chromedp.WaitVisible(chromedp.CSS("table.config")))
		if s := pageText(t, b, "table.config"); !strings.Contains(s, "brokerName") || !strings.Contains(s, c.Broker.Name) {
			t.Errorf("config page: %q", s)
		}
		screenshot(t, b, "config")
		browse(t, b, "namesrv", chromedp.Navigate(base+"namesrv"), chromedp.WaitVisible(chromedp.CSS("tr.ns")))
		if s := pageText(t, b, "tr.ns"); !strings.Contains(s, c.NameServers[0].Addr) || !strings.Contains(s, "up") {
			t.Errorf("name servers page: %q", s)
		}
		screenshot(t, b, "namesrv")
	})

	t.Run("broker's own dashboard", func(t *testing.T) {
		browse(t, b, "broker overview", chromedp.Navigate("http://127.0.0.1:"+strconv.Itoa(brHTTP)+"/dashboard/"),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr.broker[data-addr="%s"]`, c.Broker.Addr))))
		if s := pageText(t, b, "header"); !strings.Contains(s, "broker "+c.Broker.Name) || !strings.Contains(s, "this broker only") {
			t.Errorf("broker header %q", s)
		}
		screenshot(t, b, "broker-overview")
		browse(t, b, "broker topics", chromedp.Navigate("http://127.0.0.1:"+strconv.Itoa(brHTTP)+"/dashboard/topics?q=Dash"),
			chromedp.WaitVisible(chromedp.CSS("#topic-count")))
		if s := pageText(t, b, "#topic-count"); !strings.Contains(s, "2 topics match") {
			t.Errorf("broker topics %q", s)
		}
	})

	t.Run("skip backlog", func(t *testing.T) {
		// A known backlog: dash-group's consumer stops (committing what it consumed), then 10
		// more messages arrive for it.
		if err := dashGroup.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			if _, err := p.Send(ctx, client.NewMessage("DashTopic", []byte(fmt.Sprintf("backlog-%d", i)))); err != nil {
				t.Fatal(err)
			}
		}
		lag := func() int64 {
			prog, err := a.ConsumerProgress(ctx, []string{c.Broker.Addr}, "dash-group", "DashTopic")
			if err != nil || len(prog) != 4 {
				return -1
			}
			var n int64
			for _, q := range prog {
				n += q.BrokerOffset - q.ConsumerOffset
			}
			return n
		}
		waitFor(t, 20*time.Second, "dash-group's backlog of 10", func() bool { return lag() == 10 })
		browse(t, b, "skip", chromedp.Navigate(base+"group?group=dash-group"), chromedp.WaitVisible(chromedp.CSS("table.progress")),
			chromedp.Click(chromedp.CSS("#skip-backlog summary")),
			chromedp.SetValue(chromedp.CSS(`#skip-backlog select[name=topic]`), "DashTopic"),
			chromedp.Click(chromedp.CSS(`#skip-backlog button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#action-result")))
		if s := pageText(t, b, "#action-result"); !strings.HasPrefix(s, "Done") {
			t.Fatalf("skip: %s", s)
		}
		if n := lag(); n != 0 {
			t.Fatalf("dash-group's lag after skipping the backlog = %d, want 0", n)
		}
	})

	t.Run("phone", func(t *testing.T) {
		browse(t, b, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(base+"group?group=dash-group"),
			chromedp.WaitVisible(chromedp.CSS("table.progress")))
		overflow := eval[bool](t, b, `document.documentElement.scrollWidth > window.innerWidth + 1`)
		if overflow {
			t.Errorf("the group page is wider than a 390 px phone screen (tables should scroll inside their box)")
		}
		screenshot(t, b, "phone-group")
		browse(t, b, "desktop", chromedp.EmulateViewport(1280, 900))
	})
}

// total is how many deliveries the collector saw.
func (c *collector) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// TestDashboardScale: with 5,000 topics and 1,000 groups the first page of each list arrives and
// renders in the browser (the page asks for its own 50 rows only).
func TestDashboardScale(t *testing.T) {
	needProcesses(t)
	chromiumPath(t)
	_, httpPort := bigCluster(t, 5000, 1000)
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort) + "/dashboard/"
	b := newBrowser(t)
	browse(t, b, "topics", chromedp.Navigate(base+"topics"), chromedp.WaitVisible(chromedp.CSS("table.topics")))
	if s := pageText(t, b, "#topic-count"); !strings.Contains(s, "5000 topics match; page 1 of 100") {
		t.Errorf("topics: %q", s)
	}
	rows := eval[int](t, b, `document.querySelectorAll("tr.topic").length`)
	if rows != 50 {
		t.Errorf("%d topic rows on the first page, want 50", rows)
	}
	screenshot(t, b, "topics-5000")
	browse(t, b, "last page", chromedp.Navigate(base+"topics?page=100"), chromedp.WaitVisible(chromedp.CSS("table.topics")))
	if s := pageText(t, b, "table.topics tbody"); !strings.Contains(s, "ScaleTopic-04999") {
		t.Errorf("the last page lacks the last topic")
	}
	browse(t, b, "groups", chromedp.Navigate(base+"groups"), chromedp.WaitVisible(chromedp.CSS("table.groups")))
	if s := pageText(t, b, "#group-list p"); !strings.Contains(s, "1000 groups match") {
		t.Errorf("groups: %q", s)
	}
	rows = eval[int](t, b, `document.querySelectorAll("tr.group").length`)
	if rows != 50 {
		t.Errorf("%d group rows on the first page, want 50", rows)
	}
	screenshot(t, b, "groups-1000")
}

// TestDashboardNameServerWithACL: with aclEnable on the name server and the broker, the name
// server's dashboard asks for an admin account, then shows the broker it read with the inner
// credentials through both ACLs, and an action runs as the admin account.
func TestDashboardNameServerWithACL(t *testing.T) {
	needProcesses(t)
	aclPath := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(aclPath, []byte("accounts:\n  - {accessKey: viewer, secretKey: viewerSecret, defaultTopicPerm: SUB}\n"+
		"  - {accessKey: ops, secretKey: opsSecret, admin: true}\n  - {accessKey: inner, secretKey: innerSecret, admin: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	acl := map[string]string{"aclEnable": "true", "aclFile": quoted(aclPath), "innerAccessKey": quoted("inner"), "innerSecretKey": quoted("innerSecret")}
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, Namesrv: testutil.NamesrvOptions{HTTP: true, Extra: acl, DashboardSampleInterval: 1000},
		Broker: testutil.BrokerOptions{Extra: acl, NoWaitRegistration: true}}) // its wait asks the name server unsigned
	base := "http://127.0.0.1:" + strconv.Itoa(c.NameServers[0].HTTPPort)
	do := func(method, path, user, pass string, form url.Values, cookie string) (int, string) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "skiff_csrf", Value: cookie})
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, u := range [][2]string{{"", ""}, {"viewer", "viewerSecret"}, {"ops", "nope"}} {
		if code, _ := do("GET", "/api/dashboard/overview", u[0], u[1], nil, ""); code != http.StatusUnauthorized {
			t.Fatalf("overview as %q = %d, want 401", u[0], code)
		}
	}
	waitFor(t, 20*time.Second, "the overview to show the broker read through the ACL", func() bool {
		code, body := do("GET", "/api/dashboard/overview", "ops", "opsSecret", nil, "")
		return code == 200 && strings.Contains(body, `"addr": "`+c.Broker.Addr+`"`) && strings.Contains(body, `"role": "ASYNC_MASTER"`)
	})
	const tok = "00112233445566778899aabbccddeeff"
	form := url.Values{"csrf": {tok}, "topic": {"AclDashTopic"}, "cluster": {c.Broker.ClusterName}}
	if code, body := do("POST", "/dashboard/action/topic-update", "ops", "opsSecret", form, tok); code != 200 || !strings.Contains(body, "Done") {
		t.Fatalf("create topic as ops = %d %s", code, body)
	}
	ops, err := admin.New(admin.WithNameServers(c.NamesrvList()), admin.WithCredentials(client.Credentials{AccessKey: "ops", SecretKey: "opsSecret"}))
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	waitFor(t, 20*time.Second, "the topic created through the ACL to be routed", func() bool {
		_, err := ops.TopicRoute(context.Background(), "AclDashTopic")
		return err == nil
	})
	if log := c.NameServers[0].Log(); !strings.Contains(log, "who=ops@127.0.0.1") || strings.Contains(log, "opsSecret") {
		t.Fatalf("the name server log should name ops and never its secret")
	}
}
