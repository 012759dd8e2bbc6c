package dashboard

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/skiffmq/skiff/client/admin"
)

// fakeClock is an injected clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(t testing.TB, f *fakeSource, mod func(*Config)) (*Dashboard, *fakeClock, *bytes.Buffer) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	var logs bytes.Buffer
	cfg := Config{Source: f, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)), Title: "test"}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d, clk, &logs
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// response is what one request got.
type response struct {
	code   int
	body   string
	header http.Header
	cookie string // csrf cookie value set, if any
}

// call runs one request through the dashboard's mounts as httpapi would route it.
func call(d *Dashboard, method, uri string, form url.Values, cookie string, hdr map[string]string) response {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.Header.SetHost("dash.test")
	if cookie != "" {
		req.Header.SetCookie(csrfCookie, cookie)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if form != nil {
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString(form.Encode())
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5555}, nil)
	path := string(ctx.Path())
	m := d.Mounts()
	switch {
	case path == "/":
		m["/"](&ctx)
	case strings.HasPrefix(path, APIPrefix):
		m[APIPrefix](&ctx)
	default:
		m[PagePrefix](&ctx)
	}
	r := response{code: ctx.Response.StatusCode(), body: string(ctx.Response.Body())}
	r.header = http.Header{}
	ctx.Response.Header.VisitAll(func(k, v []byte) { r.header.Add(string(k), string(v)) })
	var c fasthttp.Cookie
	c.SetKey(csrfCookie)
	if ctx.Response.Header.Cookie(&c) {
		r.cookie = string(c.Value())
	}
	return r
}

func TestDashboardPagesRender(t *testing.T) {
	d, _, _ := newTest(t, newFake(30, 5), nil)
	for _, c := range []struct {
		uri  string
		want []string
	}{
		{"/dashboard/", []string{"Cluster <span class=\"name\">c1</span>", fakeMaster, fakeSlave, "ASYNC_MASTER", "SLAVE", "Skiff test", "12.5", "25.0%", "<svg class=\"chart\"", "1000 B"}},
		{"/dashboard/topics", []string{"30 topics match", "topic-00000", "topic-00029", "broker-a", "RW (6)"}},
		{"/dashboard/topics?kind=all", []string{"33 topics match", "%RETRY%g-00000", "DLQ"}},
		{"/dashboard/topic?topic=topic-00003", []string{"100 messages retained", "2023-11-14 22:13:20.000", "1h0m0s", "empty", "Send a test message"}},
		{"/dashboard/groups", []string{"5 groups match", "g-00000", "60", "no offsets committed"}},
		{"/dashboard/group?group=g-00000", []string{"c1@1", "317 V4_3_0", "CLUSTERING", "Reset offsets by time", "Skip the backlog", "topic-00000"}},
		{"/dashboard/producers", []string{"pg-1", "p1@1", "10.0.0.6:6000"}},
		{"/dashboard/messages?mode=key&topic=%25DLQ%25g-00000&key=k1", []string{"1 messages found", "0A00000100002A9F0000000000000000", "<td>broker-a</td>", "2023-11-14 22:13:20.000 UTC"}},
		{"/dashboard/message?id=0A00000100002A9F0000000000000000", []string{"dead &lt;b&gt;letter&lt;/b&gt;", "RETRY_TOPIC", "Resend to a consumer group"}},
		{"/dashboard/message?id=0A00000100002A9F0000000000000000&view=hex", []string{"64 65 61 64", "|dead &lt;b&gt;letter&lt;/|"}},
		{"/dashboard/dlq?group=g-00000", []string{"topic-00000", "dead &lt;b&gt;letter&lt;/b&gt;", "Resend selected to g-00000"}},
		{"/dashboard/dlq?group=g-00001", []string{"no dead-letter queue"}},
		{"/dashboard/config", []string{"brokerName", "broker-a", "listenPort"}},
		{"/dashboard/namesrv", []string{"10.0.0.9:9876", "10.0.0.8:9876", "this dashboard", "broker " + fakeMaster, "up"}},
	} {
		r := call(d, "GET", c.uri, nil, "", nil)
		if r.code != 200 {
			t.Errorf("GET %s = %d\n%s", c.uri, r.code, r.body)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("GET %s lacks %q", c.uri, w)
			}
		}
		if r.cookie == "" {
			t.Errorf("GET %s set no CSRF cookie", c.uri)
		}
		api := strings.Replace(c.uri, PagePrefix, APIPrefix, 1)
		if api == APIPrefix {
			api += "overview"
		}
		j := call(d, "GET", api, nil, "", nil)
		var v map[string]any
		if j.code != 200 || json.Unmarshal([]byte(j.body), &v) != nil {
			t.Errorf("GET %s = %d %.200s", api, j.code, j.body)
		}
	}
	if r := call(d, "GET", "/", nil, "", nil); r.code != 302 || !strings.HasSuffix(r.header.Get("Location"), PagePrefix) {
		t.Errorf("/ = %d %q, want a redirect to %s", r.code, r.header.Get("Location"), PagePrefix)
	}
	for uri, code := range map[string]int{"/dashboard/nope": 404, "/dashboard/topic": 400, "/dashboard/topic?topic=missing": 400,
		"/dashboard/topics?kind=weird": 400, "/dashboard/messages?mode=zzz": 400, "/dashboard/static/../dashboard.go": 404,
		"/dashboard/config?broker=1.2.3.4:5": 400, "/api/dashboard/group?group=nobody": 400} {
		if r := call(d, "GET", uri, nil, "", nil); r.code != code {
			t.Errorf("GET %s = %d, want %d", uri, r.code, code)
		}
	}
	if r := call(d, "GET", "/dashboard/static/htmx-2.0.11.min.js", nil, "", nil); r.code != 200 || !strings.Contains(r.body, "htmx") {
		t.Errorf("vendored htmx not served: %d", r.code)
	}
}

// TestDashboardTopicsPaginate: with 5,000 topics a page asks for the routes of its own rows only.
func TestDashboardTopicsPaginate(t *testing.T) {
	f := newFake(5000, 0)
	d, _, _ := newTest(t, f, nil)
	r := call(d, "GET", "/api/dashboard/topics", nil, "", nil)
	var v TopicsData
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatal(err)
	}
	if v.Pager.Total != 5000 || v.Pager.Pages != 100 || len(v.Topics) != 50 || v.Topics[0].Name != "topic-00000" {
		t.Fatalf("first page: total %d pages %d rows %d", v.Pager.Total, v.Pager.Pages, len(v.Topics))
	}
	if f.routes != 50 {
		t.Fatalf("the first page asked for %d routes, want 50", f.routes)
	}
	r = call(d, "GET", "/dashboard/topics?page=100&size=50", nil, "", nil)
	if !strings.Contains(r.body, "topic-04999") || strings.Contains(r.body, "topic-04949") || !strings.Contains(r.body, "page 100 of 100") {
		t.Fatalf("last page wrong:\n%s", r.body)
	}
	r = call(d, "GET", "/dashboard/topics?q=TOPIC-0012&page=99999&size=100000", nil, "", nil)
	if !strings.Contains(r.body, "10 topics match") || !strings.Contains(r.body, "topic-00129") {
		t.Fatalf("search page wrong:\n%s", r.body)
	}
}

// TestDashboardLagNeverNegative: every group's lag is a number or an explanation, never -1.
func TestDashboardLagNeverNegative(t *testing.T) {
	f := newFake(1, 1000)
	f.progress["g-00001"] = nil
	f.progress["g-00002"] = []admin.QueueProgress{}
	d, _, _ := newTest(t, f, func(c *Config) { c.PageSize = 500 })
	for page := 1; page <= 2; page++ {
		r := call(d, "GET", "/api/dashboard/groups?page="+string(rune('0'+page)), nil, "", nil)
		var v GroupsData
		if err := json.Unmarshal([]byte(r.body), &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Groups) != 500 {
			t.Fatalf("page %d has %d groups", page, len(v.Groups))
		}
		for _, g := range v.Groups {
			switch {
			case g.Lag.Value < 0:
				t.Errorf("group %s lag %d", g.Name, g.Lag.Value)
			case g.Lag.Known && g.Name == "g-00000" && g.Lag.Value != 60:
				t.Errorf("g-00000 lag %d, want 60", g.Lag.Value)
			case !g.Lag.Known && g.Lag.Why == "":
				t.Errorf("group %s has an unknown lag without a reason", g.Name)
			}
		}
	}
	f.progress["g-00003"] = []admin.QueueProgress{{BrokerOffset: 5, ConsumerOffset: -1}}
	if l := lagOf(f.progress["g-00003"], nil); l.Known || !strings.Contains(l.Why, "committed") {
		t.Errorf("a queue with consumer offset -1 gives %+v", l)
	}
}

func TestDashboardActionsNeedCSRFAndAuth(t *testing.T) {
	f := newFake(3, 1)
	var allow string
	d, _, logs := newTest(t, f, func(c *Config) {
		c.Authorize = func(ctx *fasthttp.RequestCtx) (string, Source, func(), error) {
			if allow == "" {
				return "", nil, nil, ErrUnauthorized
			}
			return allow + "@" + ctx.RemoteAddr().String(), nil, nil, nil
		}
	})
	tok := call(d, "GET", "/dashboard/topics", nil, "", nil).cookie
	form := url.Values{"topic": {"NewTopic"}, "cluster": {"c1"}, "readQueueNums": {"4"}, "writeQueueNums": {"4"}, "perm": {"6"}}
	if r := call(d, "GET", "/dashboard/action/topic-update?"+form.Encode(), nil, tok, nil); r.code != 405 {
		t.Fatalf("GET on an action = %d, want 405", r.code)
	}
	if r := call(d, "POST", "/dashboard/action/topic-update", form, tok, nil); r.code != 403 {
		t.Fatalf("POST without the token field = %d, want 403", r.code)
	}
	form.Set("csrf", tok)
	if r := call(d, "POST", "/dashboard/action/topic-update", form, "", nil); r.code != 403 {
		t.Fatalf("POST without the cookie = %d, want 403", r.code)
	}
	if r := call(d, "POST", "/dashboard/action/topic-update", form, tok, map[string]string{"Origin": "http://evil.test"}); r.code != 403 {
		t.Fatalf("cross-origin POST = %d, want 403", r.code)
	}
	if r := call(d, "POST", "/dashboard/action/topic-update", form, tok, nil); r.code != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("POST without credentials = %d %q, want 401 with a Basic challenge", r.code, r.header.Get("WWW-Authenticate"))
	}
	if len(f.created) != 0 {
		t.Fatalf("refused requests created topics: %v", f.created)
	}
	allow = "alice"
	r := call(d, "POST", "/dashboard/action/topic-update", form, tok, map[string]string{"Origin": "http://dash.test"})
	if r.code != 200 || !strings.Contains(r.body, "Done") || len(f.created) != 1 || f.created[0].ReadQueueNums != 4 {
		t.Fatalf("authorized POST = %d created %v\n%s", r.code, f.created, r.body)
	}
	if l := logs.String(); !strings.Contains(l, `msg="dashboard action"`) || !strings.Contains(l, `action=topic-update who=alice@192.0.2.7:5555 target=NewTopic`) {
		t.Fatalf("the action was not logged with who did it:\n%s", logs.String())
	}
	if ov := call(d, "GET", "/dashboard/", nil, tok, nil); !strings.Contains(ov.body, "alice@192.0.2.7:5555") {
		t.Fatal("the overview does not list the action and who did it")
	}
	// Bad input is refused with the value named, and logged as a failure.
	form.Set("readQueueNums", "0")
	if r := call(d, "POST", "/dashboard/action/topic-update", form, tok, nil); r.code != 400 || !strings.Contains(r.body, "readQueueNums") {
		t.Fatalf("bad queue count = %d %s", r.code, r.body)
	}
	// Reset and skip go to the broker with the time asked for.
	// A time without a zone is refused before anything is reset.
	reset := url.Values{"csrf": {tok}, "group": {"g-00000"}, "topic": {"topic-00000"}, "time": {"2030-01-02T03:00"}}
	if r := call(d, "POST", "/dashboard/action/group-reset", reset, tok, nil); r.code != 400 || !strings.Contains(r.body, "names no zone") || len(f.resets) != 0 {
		t.Fatalf("reset to a time without a zone = %d (resets %v) %s", r.code, f.resets, r.body)
	}
	reset.Set("time", "2030-01-02 03:00 UTC")
	if r := call(d, "POST", "/dashboard/action/group-reset", reset, tok, nil); r.code != 200 {
		t.Fatalf("reset = %d %s", r.code, r.body)
	}
	skip := url.Values{"csrf": {tok}, "group": {"g-00000"}}
	if r := call(d, "POST", "/dashboard/action/group-skip", skip, tok, nil); r.code != 200 {
		t.Fatalf("skip = %d %s", r.code, r.body)
	}
	want := []string{"g-00000 topic-00000 1893553200000", "g-00000 topic-00000 -1"}
	if strings.Join(f.resets, "|") != strings.Join(want, "|") {
		t.Fatalf("resets %v, want %v", f.resets, want)
	}
	// A DLQ message goes back to the group's retry topic under its original topic.
	dlq := url.Values{"csrf": {tok}, "group": {"g-00000"}, "id": {"0A00000100002A9F0000000000000000"}}
	if r := call(d, "POST", "/dashboard/action/dlq-resend", dlq, tok, map[string]string{"Accept": "application/json"}); r.code != 200 || !strings.Contains(r.body, `"ok": true`) {
		t.Fatalf("dlq resend = %d %s", r.code, r.body)
	}
	if got := f.sent[len(f.sent)-1]; got != "%RETRY%g-00000 0 dead <b>letter</b> RETRY_TOPIC=topic-00000" {
		t.Fatalf("resent %q", got)
	}
}

// TestDashboardSampler: the sampler keeps one hour of samples by the injected clock, computes
// replication lag from the runtime info, and a failing broker shows its error.
func TestDashboardSampler(t *testing.T) {
	f := newFake(1, 1)
	d, clk, _ := newTest(t, f, func(c *Config) { c.SampleInterval = 10 * time.Second })
	for i := 0; i < 400; i++ {
		d.sampler.sampleOnce()
		clk.Add(10 * time.Second)
	}
	clk.Add(-10 * time.Second)
	snap := d.sampler.snapshot()
	if len(snap.Brokers) != 2 {
		t.Fatalf("%d brokers sampled", len(snap.Brokers))
	}
	for _, b := range snap.Brokers {
		if n := len(b.Series); n != 361 {
			t.Errorf("%s keeps %d samples, want 361 (one hour at 10 s)", b.Addr, n)
		}
		last := b.Series[len(b.Series)-1]
		if !last.LagKnown || last.LagBytes != 1000 {
			t.Errorf("%s lag %+v, want 1000 bytes", b.Addr, last)
		}
	}
	f.failRT = true
	clk.Add(time.Minute) // the snapshot is stale: the next page samples
	ov, _ := d.overview(nil, nil)
	o := ov.(*OverviewData)
	// The failed reading adds no sample; the minute that passed drops the oldest six.
	if b := o.Clusters[0].Sets[0].Brokers[0]; !strings.Contains(b.Error, "timeout") || len(b.Series) != 355 {
		t.Fatalf("a failing broker: error %q, %d samples", b.Error, len(b.Series))
	}
}

func TestReplicationLag(t *testing.T) {
	for _, c := range []struct {
		rt    map[string]string
		lag   int64
		known bool
	}{
		{map[string]string{"haSlaves": "a:1:90;b:2:70", "commitLogMaxOffset": "100"}, 30, true},
		{map[string]string{"haSlaves": "", "commitLogMaxOffset": "100"}, 0, false},
		{map[string]string{"haSlaves": "a:1:-1", "commitLogMaxOffset": "100"}, 0, false},
		{map[string]string{"haReplicationLagBytes": "7"}, 7, true},
		{map[string]string{"brokerRole": "ASYNC_MASTER"}, 0, false},
	} {
		lag, known, why := replicationLag(c.rt)
		if lag != c.lag || known != c.known || (!known && why == "") {
			t.Errorf("%v: lag %d known %v why %q", c.rt, lag, known, why)
		}
	}
}

// TestDashboardBasicAuth: actions with BasicAuth need credentials that check accepts; the log names
// the account.
func TestDashboardBasicAuth(t *testing.T) {
	f := newFake(3, 1)
	actor := newFake(3, 1) // the Source that carries the caller's credentials
	var acting []string
	released := 0
	d, _, logs := newTest(t, f, func(c *Config) {
		c.Authorize = BasicAuth(false, func(remote, user, pass string) (string, error) {
			if user != "admin" || pass != "s3cret" {
				return "", errors.New("acl: not an admin account")
			}
			return user + "@" + remote, nil
		}, func(user, pass string) (Source, func(), error) {
			acting = append(acting, user)
			return actor, func() { released++ }, nil
		})
	})
	tok := call(d, "GET", "/dashboard/topics", nil, "", nil).cookie
	form := url.Values{"csrf": {tok}, "topic": {"T1"}, "cluster": {"c1"}}
	for _, h := range []map[string]string{nil, {"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:wrong"))},
		{"Authorization": "Bearer xyz"}} {
		if r := call(d, "POST", "/dashboard/action/topic-update", form, tok, h); r.code != 401 {
			t.Fatalf("POST with %v = %d, want 401", h, r.code)
		}
	}
	h := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:s3cret"))}
	if r := call(d, "POST", "/dashboard/action/topic-update", form, tok, h); r.code != 200 || len(actor.created) != 1 || len(f.created) != 0 {
		t.Fatalf("POST with the admin's credentials = %d, created %v by the caller's source, %v by the dashboard's", r.code, actor.created, f.created)
	}
	if len(acting) != 1 || acting[0] != "admin" || released != 1 {
		t.Fatalf("acted as %v, released %d times", acting, released)
	}
	if !strings.Contains(logs.String(), "who=admin@192.0.2.7:5555") {
		t.Fatalf("log lacks the account:\n%s", logs.String())
	}
	// With AuthorizeRead, pages and JSON need the credentials too, and read through the caller's source.
	d.cfg.AuthorizeRead = d.cfg.Authorize
	for _, uri := range []string{"/dashboard/topics", "/api/dashboard/topics"} {
		if r := call(d, "GET", uri, nil, "", nil); r.code != 401 || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("GET %s without credentials = %d", uri, r.code)
		}
		if r := call(d, "GET", uri, nil, "", h); r.code != 200 || !strings.Contains(r.body, "T1") {
			t.Fatalf("GET %s with credentials = %d (the topic the caller's source created is missing)", uri, r.code)
		}
	}
	if r := call(d, "GET", "/dashboard/static/style.css", nil, "", nil); r.code != 200 {
		t.Fatalf("static file behind the login: %d", r.code)
	}
}

// TestDashboardOverviewDoesNotWaitForASlowBroker: while a sample hangs on a broker that does not
// answer, the overview renders from the last sample instead of queueing behind it.
func TestDashboardOverviewDoesNotWaitForASlowBroker(t *testing.T) {
	f := newFake(1, 1)
	d, clk, _ := newTest(t, f, nil)
	d.sampler.sampleOnce()
	release := make(chan struct{})
	f.mu.Lock()
	f.blockRT = release
	f.mu.Unlock()
	defer close(release)
	go d.sampler.sampleOnce() // the loop's sample, stuck on the broker
	for d.sampler.run.TryLock() {
		d.sampler.run.Unlock() // not started yet
		time.Sleep(time.Millisecond)
	}
	clk.Add(time.Hour) // the last sample is stale
	done := make(chan int, 1)
	go func() { done <- call(d, "GET", "/dashboard/", nil, "", nil).code }()
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("overview = %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the overview waited for the stuck sample")
	}
}

// TestDashboardProducersByGroupAndTopic: the producers page lists each connection's topics and
// filters by part of a group name and part of a topic name.
func TestDashboardProducersByGroupAndTopic(t *testing.T) {
	d, _, _ := newTest(t, newFake(3, 0), nil)
	get := func(q string) ProducersData {
		t.Helper()
		r := call(d, "GET", "/api/dashboard/producers"+q, nil, "", nil)
		var v ProducersData
		if r.code != 200 || json.Unmarshal([]byte(r.body), &v) != nil {
			t.Fatalf("GET producers%s = %d %s", q, r.code, r.body)
		}
		return v
	}
	summary := func(v ProducersData) string {
		var parts []string
		for _, g := range v.Groups {
			var cs []string
			for _, c := range g.Connections {
				cs = append(cs, c.ClientID+"="+strings.Join(c.Topics, "+"))
			}
			parts = append(parts, g.Group+"["+strings.Join(g.Topics, "+")+"]:"+strings.Join(cs, ","))
		}
		return strings.Join(parts, " ")
	}
	for q, want := range map[string]string{
		"":                   "pg-1[topic-00000+topic-00001]:p1@1=topic-00000+topic-00001,p1@2= pg-2[topic-00002]:p2@1=topic-00002",
		"?topic=TOPIC-00001": "pg-1[topic-00000+topic-00001]:p1@1=topic-00000+topic-00001",
		"?topic=00002":       "pg-2[topic-00002]:p2@1=topic-00002",
		"?q=pg-1&topic=0002": "",
		"?q=PG-2":            "pg-2[topic-00002]:p2@1=topic-00002",
	} {
		if got := summary(get(q)); got != want {
			t.Errorf("producers%s = %q, want %q", q, got, want)
		}
	}
	r := call(d, "GET", "/dashboard/producers?topic=00002", nil, "", nil)
	for _, w := range []string{`<a href="/dashboard/topic?topic=topic-00002">topic-00002</a>`, "and more", `value="00002"`, "1 producer groups"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("producers page filtered by topic lacks %q:\n%s", w, r.body)
		}
	}
	if r := call(d, "GET", "/dashboard/producers", nil, "", nil); !strings.Contains(r.body, "none sent yet") {
		t.Errorf("a connection without topics is not said to have sent none")
	}
}

// TestDashboardMessagesByTimePages: a time range with more than one page of messages (141 of
// 150, three to a millisecond across both queues, with a SearchOffset that answers the last of
// equal store times) pages through every message of the range once, in (store time, broker,
// queue, offset) order, by following the next cursor; the HTML links the pages.
func TestDashboardMessagesByTimePages(t *testing.T) {
	f := newFake(1, 0)
	const base = 1_800_000_000_000
	f.addMessages("Big", 150, base)
	d, _, _ := newTest(t, f, nil)
	begin, end := time.UnixMilli(base+2).UTC(), time.UnixMilli(base+48).UTC()
	var want []string
	f.mu.Lock()
	for _, m := range f.msgs {
		if m.Topic == "Big" && m.StoreTimestamp >= begin.UnixMilli() && m.StoreTimestamp <= end.UnixMilli() {
			want = append(want, cursor{m.StoreTimestamp, "broker-a", m.QueueID, m.QueueOffset}.String())
		}
	}
	f.mu.Unlock()
	sortCursors(want)
	if len(want) != 141 {
		t.Fatalf("the fake holds %d messages in the range, want 141", len(want))
	}
	q := url.Values{"mode": {"time"}, "topic": {"Big"}, "begin": {formatTime(begin)}, "end": {begin.Add(46 * time.Millisecond).Format(time.RFC3339Nano)}}
	var got []string
	var sizes []int
	for page := 0; page < 10; page++ {
		r := call(d, "GET", "/api/dashboard/messages?"+q.Encode(), nil, "", nil)
		var v MessagesData
		if r.code != 200 || json.Unmarshal([]byte(r.body), &v) != nil {
			t.Fatalf("page %d = %d %s", page, r.code, r.body)
		}
		if len(v.Errors) > 0 {
			t.Fatalf("page %d errors: %v", page, v.Errors)
		}
		for _, row := range v.Results {
			got = append(got, cursorOf(row).String())
			if row.StoreText != formatMillis(row.StoreTime) || !strings.HasSuffix(row.BornText, " UTC") {
				t.Fatalf("row times %q %q", row.StoreText, row.BornText)
			}
		}
		sizes = append(sizes, len(v.Results))
		if v.Next == "" {
			break
		}
		q.Set("after", v.Next)
	}
	if fmt.Sprint(sizes) != "[64 64 13]" {
		t.Errorf("page sizes %v, want [64 64 13]", sizes)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("paged through\n%v\nwant\n%v", got, want)
	}

	// The HTML: the first page links the next, a middle page both, the last only the first.
	q.Del("after")
	r := call(d, "GET", "/dashboard/messages?"+q.Encode(), nil, "", nil)
	if !strings.Contains(r.body, `id="next-page"`) || strings.Contains(r.body, `id="first-page"`) || !strings.Contains(r.body, "64 messages found") ||
		!strings.Contains(r.body, formatMillis(base+2)) {
		t.Errorf("first page:\n%s", r.body)
	}
	q.Set("after", want[len(want)-2])
	r = call(d, "GET", "/dashboard/messages?"+q.Encode(), nil, "", nil)
	if strings.Contains(r.body, `id="next-page"`) || !strings.Contains(r.body, `id="first-page"`) || !strings.Contains(r.body, "1 messages found") {
		t.Errorf("last page:\n%s", r.body)
	}
	for _, bad := range []string{"x", "1-2-3", "1-2-3-", "-1-0-0-b", "1-a-0-b"} {
		q.Set("after", bad)
		if r := call(d, "GET", "/api/dashboard/messages?"+q.Encode(), nil, "", nil); r.code != 400 || !strings.Contains(r.body, "is not a page position") {
			t.Errorf("after=%q = %d %s", bad, r.code, r.body)
		}
	}
	q.Del("after")
	q.Set("begin", "2027-01-15T10:00")
	if r := call(d, "GET", "/api/dashboard/messages?"+q.Encode(), nil, "", nil); r.code != 400 || !strings.Contains(r.body, "names no zone") {
		t.Errorf("a begin without a zone = %d %s", r.code, r.body)
	}
}

// sortCursors sorts cursor strings in cursor order.
func sortCursors(s []string) {
	sort.Slice(s, func(i, j int) bool {
		a, _ := parseCursor(s[i])
		b, _ := parseCursor(s[j])
		return a.less(b)
	})
}
