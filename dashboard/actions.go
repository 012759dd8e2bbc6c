package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/message"
)

// AuditEntry is one action taken through the dashboard.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Result string    `json:"result"`
	OK     bool      `json:"ok"`
}

// auditLog keeps the last max actions in memory (they are also logged).
type auditLog struct {
	mu      sync.Mutex
	max     int
	entries []AuditEntry
}

func (a *auditLog) add(e AuditEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	if len(a.entries) > a.max {
		a.entries = a.entries[len(a.entries)-a.max:]
	}
}

func (a *auditLog) recent(n int) []AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]AuditEntry, 0, min(n, len(a.entries)))
	for i := len(a.entries) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, a.entries[i])
	}
	return out
}

// action changes the cluster; it returns what it did (shown and logged) and the page to go back to.
type action struct {
	title string
	run   func(d *Dashboard, c context.Context, f url.Values) (result, back string, err error)
	// target names what the action touches, for the log.
	target func(f url.Values) string
}

var actions = map[string]action{
	"topic-update":   {"Create or update topic", (*Dashboard).actTopicUpdate, field("topic")},
	"topic-delete":   {"Delete topic", (*Dashboard).actTopicDelete, field("topic")},
	"topic-send":     {"Send a test message", (*Dashboard).actTopicSend, field("topic")},
	"group-reset":    {"Reset consumer offsets", (*Dashboard).actGroupReset, fields("group", "topic", "time")},
	"group-skip":     {"Skip the backlog", (*Dashboard).actGroupSkip, fields("group", "topic")},
	"message-resend": {"Resend a message", (*Dashboard).actMessageResend, fields("id", "group")},
	"dlq-resend":     {"Resend dead-lettered messages", (*Dashboard).actDLQResend, fields("group", "id")},
}

func field(k string) func(url.Values) string { return func(f url.Values) string { return f.Get(k) } }

func fields(ks ...string) func(url.Values) string {
	return func(f url.Values) string {
		var parts []string
		for _, k := range ks {
			if vs := f[k]; len(vs) > 0 {
				parts = append(parts, k+"="+strings.Join(vs, ","))
			}
		}
		return strings.Join(parts, " ")
	}
}

// ActionResult is what an action answers (rendered, or as JSON for Accept: application/json).
type ActionResult struct {
	Action string `json:"action"`
	Who    string `json:"who"`
	OK     bool   `json:"ok"`
	Result string `json:"result"`
	Back   string `json:"back"`
}

// act is the single door of every change: POST only, CSRF check, the Authorizer, the action, one
// log line and an audit entry naming who did it.
func (d *Dashboard) act(ctx *fasthttp.RequestCtx, name string) {
	a, ok := actions[name]
	wantJSON := strings.Contains(string(ctx.Request.Header.Peek("Accept")), "application/json")
	fail := func(code int, err error) {
		if wantJSON {
			writeJSON(ctx, code, map[string]string{"error": err.Error()})
			return
		}
		d.render(ctx, code, "error", "Action refused", url.Values{}, map[string]string{"Error": err.Error()})
	}
	if !ok {
		fail(fasthttp.StatusNotFound, fmt.Errorf("no action %q", name))
		return
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		fail(fasthttp.StatusMethodNotAllowed, errors.New("actions must be POSTed from the dashboard's forms"))
		return
	}
	form := formValues(ctx)
	remote := ctx.RemoteAddr().String()
	if err := checkCSRF(ctx, form); err != nil {
		d.log.Warn("dashboard action refused", "action", name, "remote", remote, "err", err)
		fail(fasthttp.StatusForbidden, err)
		return
	}
	who := "anonymous@" + remote
	c, cancel := context.WithTimeout(context.Background(), d.cfg.Timeout)
	defer cancel()
	if d.cfg.Authorize != nil {
		w, src, release, err := d.cfg.Authorize(ctx)
		if release != nil {
			defer release()
		}
		if src != nil {
			c = context.WithValue(c, sourceKey{}, src)
		}
		if err != nil {
			d.log.Warn("dashboard action refused", "action", name, "remote", remote, "err", err)
			if errors.Is(err, ErrUnauthorized) {
				ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="skiff admin", charset="UTF-8"`)
				fail(fasthttp.StatusUnauthorized, err)
				return
			}
			fail(fasthttp.StatusForbidden, err)
			return
		}
		who = w
	}
	target := a.target(form)
	result, back, err := a.run(d, c, form)
	entry := AuditEntry{At: d.cfg.Now(), Who: who, Action: name, Target: target, Result: result, OK: err == nil}
	if err != nil {
		entry.Result = err.Error()
		d.log.Warn("dashboard action failed", "action", name, "who", who, "target", target, "err", err)
	} else {
		d.log.Info("dashboard action", "action", name, "who", who, "target", target, "result", result)
	}
	d.audit.add(entry)
	if !strings.HasPrefix(back, PagePrefix) {
		back = PagePrefix
	}
	res := ActionResult{Action: a.title, Who: who, OK: err == nil, Result: entry.Result, Back: back}
	code := fasthttp.StatusOK
	if err != nil {
		code = fasthttp.StatusBadGateway
		var br badRequest
		if errors.As(err, &br) {
			code = fasthttp.StatusBadRequest
		}
	}
	if wantJSON {
		writeJSON(ctx, code, res)
		return
	}
	d.render(ctx, code, "action", a.title, url.Values{}, res)
}

func topicBack(t string) string { return PagePrefix + "topic?topic=" + url.QueryEscape(t) }
func groupBack(g string) string { return PagePrefix + "group?group=" + url.QueryEscape(g) }

func (d *Dashboard) actTopicUpdate(c context.Context, f url.Values) (string, string, error) {
	topic := strings.TrimSpace(f.Get("topic"))
	if err := validName(topic, "topic"); err != nil {
		return "", PagePrefix + "topics", err
	}
	tc := admin.DefaultTopicConfig(topic)
	for _, p := range []struct {
		key string
		dst *int32
		lo  int32
		hi  int32
	}{{"readQueueNums", &tc.ReadQueueNums, 1, 1024}, {"writeQueueNums", &tc.WriteQueueNums, 1, 1024}, {"perm", &tc.Perm, 0, 7}} {
		if s := strings.TrimSpace(f.Get(p.key)); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || int32(n) < p.lo || int32(n) > p.hi {
				return "", topicBack(topic), badf("%s %q must be a number from %d to %d", p.key, s, p.lo, p.hi)
			}
			*p.dst = int32(n)
		}
	}
	tc.Order = f.Get("order") == "true" || f.Get("order") == "on"
	var addrs []string
	switch {
	case d.cfg.Scope != "":
		addrs = []string{d.cfg.Scope}
	case f.Get("broker") != "":
		addrs = []string{f.Get("broker")}
	default:
		cluster := strings.TrimSpace(f.Get("cluster"))
		if cluster == "" {
			return "", topicBack(topic), badf("choose the cluster to create topic %q in", topic)
		}
		ci, err := d.source(c).ClusterInfo(c)
		if err != nil {
			return "", topicBack(topic), err
		}
		if addrs, err = ci.MasterAddrs(cluster); err != nil {
			return "", topicBack(topic), badf("%v", err)
		}
	}
	if len(addrs) == 0 {
		return "", topicBack(topic), errors.New("no master to create the topic on")
	}
	for _, a := range addrs {
		if err := d.source(c).CreateTopic(c, a, tc); err != nil {
			return "", topicBack(topic), err
		}
	}
	return fmt.Sprintf("topic %s: %d read / %d write queues, perm %d, order %v on %s", topic, tc.ReadQueueNums, tc.WriteQueueNums,
		tc.Perm, tc.Order, strings.Join(addrs, ", ")), topicBack(topic), nil
}

func validName(s, what string) error {
	if s == "" {
		return badf("the %s name is empty", what)
	}
	if len(s) > 127 {
		return badf("the %s name is %d bytes; the limit is 127", what, len(s))
	}
	for _, r := range s {
		if !(r == '%' || r == '|' || r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return badf("the %s name %q contains %q; use letters, digits, %%, |, _ and -", what, s, r)
		}
	}
	return nil
}

func (d *Dashboard) actTopicDelete(c context.Context, f url.Values) (string, string, error) {
	topic := strings.TrimSpace(f.Get("topic"))
	if err := validName(topic, "topic"); err != nil {
		return "", PagePrefix + "topics", err
	}
	if f.Get("confirm") != topic {
		return "", topicBack(topic), badf("type the topic name %q to confirm the deletion", topic)
	}
	cluster := strings.TrimSpace(f.Get("cluster"))
	if cluster == "" {
		return "", topicBack(topic), badf("choose the cluster to delete topic %q from", topic)
	}
	if err := d.source(c).DeleteTopic(c, cluster, topic); err != nil {
		return "", topicBack(topic), err
	}
	return fmt.Sprintf("topic %s deleted from cluster %s", topic, cluster), PagePrefix + "topics", nil
}

func (d *Dashboard) actTopicSend(c context.Context, f url.Values) (string, string, error) {
	topic := strings.TrimSpace(f.Get("topic"))
	if err := validName(topic, "topic"); err != nil {
		return "", PagePrefix + "topics", err
	}
	body := f.Get("body")
	if body == "" {
		return "", topicBack(topic), badf("the message body is empty")
	}
	r, err := d.source(c).SendMessage(c, topic, []byte(body), strings.TrimSpace(f.Get("tags")), strings.TrimSpace(f.Get("keys")), "", -1)
	if err != nil {
		return "", topicBack(topic), err
	}
	return fmt.Sprintf("sent to %s queue %d offset %d; msgId %s, offsetMsgId %s", r.BrokerName, r.QueueID, r.QueueOffset, r.MsgID, r.OffsetMsgID),
		PagePrefix + "message?id=" + url.QueryEscape(r.OffsetMsgID), nil
}

// groupTopics returns the topics to reset: the one named, or every topic the group has offsets for.
func (d *Dashboard) groupTopics(c context.Context, group, topic string) ([]string, error) {
	if topic != "" {
		return []string{topic}, nil
	}
	ms, err := d.masters(c)
	if err != nil {
		return nil, err
	}
	prog, err := d.source(c).ConsumerProgress(c, ms, group, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range prog {
		if !slices.Contains(out, p.Topic) {
			out = append(out, p.Topic)
		}
	}
	if len(out) == 0 {
		return nil, badf("group %q has no offsets on any broker; name the topic", group)
	}
	return out, nil
}

func (d *Dashboard) resetTo(c context.Context, f url.Values, ts int64) (string, string, error) {
	group, topic := strings.TrimSpace(f.Get("group")), strings.TrimSpace(f.Get("topic"))
	if err := validName(group, "group"); err != nil {
		return "", PagePrefix + "groups", err
	}
	topics, err := d.groupTopics(c, group, topic)
	if err != nil {
		return "", groupBack(group), err
	}
	var parts []string
	for _, t := range topics {
		offs, err := d.source(c).ResetOffsetByTime(c, group, t, ts, true)
		if err != nil {
			return strings.Join(parts, "; "), groupBack(group), fmt.Errorf("reset %s of %s: %w", t, group, err)
		}
		var qs []string
		for mq, off := range offs {
			qs = append(qs, fmt.Sprintf("%s/%d→%d", mq.BrokerName, mq.QueueID, off))
		}
		slices.Sort(qs)
		parts = append(parts, fmt.Sprintf("%s: %s", t, strings.Join(qs, " ")))
	}
	return "offsets of " + group + " now " + strings.Join(parts, "; "), groupBack(group), nil
}

func (d *Dashboard) actGroupReset(c context.Context, f url.Values) (string, string, error) {
	t, err := parseTime(f.Get("time"), time.Time{})
	if err != nil {
		return "", groupBack(f.Get("group")), err
	}
	if t.IsZero() {
		return "", groupBack(f.Get("group")), badf("enter the time to reset to (%s, or milliseconds since the epoch)", TimeInputHint)
	}
	return d.resetTo(c, f, t.UnixMilli())
}

func (d *Dashboard) actGroupSkip(c context.Context, f url.Values) (string, string, error) {
	return d.resetTo(c, f, -1)
}

// resend sends a copy of the message behind offsetMsgID to group's retry topic, so that only that
// group's consumers get it again, under its original topic (RETRY_TOPIC), with fresh retries.
func (d *Dashboard) resend(c context.Context, offsetMsgID, group string) (string, error) {
	m, err := d.source(c).ViewMessage(c, offsetMsgID)
	if err != nil {
		return "", err
	}
	orig := m.Properties[message.PropertyRetryTopic]
	if orig == "" {
		orig = m.Topic
	}
	if strings.HasPrefix(orig, "%DLQ%") || strings.HasPrefix(orig, "%RETRY%") {
		return "", badf("message %s has no original topic (RETRY_TOPIC) to resend to", offsetMsgID)
	}
	retry := "%RETRY%" + group
	addr := ""
	if r, err := d.source(c).TopicRoute(c, retry); err == nil {
		for _, bd := range r.BrokerDatas {
			if a := bd.MasterAddr(); a != "" && (addr == "" || a == m.StoreHost.String()) {
				addr = a
			}
		}
	}
	if addr == "" {
		// The group has no retry topic yet: create it (one queue, as brokers do) on a master that
		// hosts the original topic, preferring the one that stored the message.
		r, err := d.source(c).TopicRoute(c, orig)
		if err != nil {
			return "", fmt.Errorf("route of %s: %w", orig, err)
		}
		for _, bd := range r.BrokerDatas {
			if a := bd.MasterAddr(); a != "" && (addr == "" || a == m.StoreHost.String()) {
				addr = a
			}
		}
		if addr == "" {
			return "", fmt.Errorf("no master hosts topic %s", orig)
		}
		if err := d.source(c).CreateTopic(c, addr, admin.TopicConfig{TopicName: retry, ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); err != nil {
			return "", fmt.Errorf("create %s: %w", retry, err)
		}
	}
	cp := &message.Message{Flag: m.Flag, BornTimestamp: m.BornTimestamp, Body: m.Body, Properties: map[string]string{}}
	for k, v := range m.Properties {
		cp.Properties[k] = v
	}
	cp.Properties[message.PropertyRetryTopic] = orig
	if cp.Properties[message.PropertyOriginMessageID] == "" {
		cp.Properties[message.PropertyOriginMessageID] = offsetMsgID
	}
	for _, k := range []string{message.PropertyDelayLevel, message.PropertyRealTopic, message.PropertyRealQueueID, message.PropertyWait} {
		delete(cp.Properties, k)
	}
	res, err := d.source(c).SendStored(c, addr, retry, 0, cp)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s resent to group %s (topic %s via %s, offset %d)", offsetMsgID, group, orig, retry, res.QueueOffset), nil
}

func (d *Dashboard) actMessageResend(c context.Context, f url.Values) (string, string, error) {
	id, group := strings.TrimSpace(f.Get("id")), strings.TrimSpace(f.Get("group"))
	back := PagePrefix + "message?id=" + url.QueryEscape(id)
	if id == "" {
		return "", back, badf("no message id")
	}
	if err := validName(group, "group"); err != nil {
		return "", back, err
	}
	r, err := d.resend(c, id, group)
	return r, back, err
}

func (d *Dashboard) actDLQResend(c context.Context, f url.Values) (string, string, error) {
	group := strings.TrimSpace(f.Get("group"))
	back := PagePrefix + "dlq?group=" + url.QueryEscape(group)
	if err := validName(group, "group"); err != nil {
		return "", back, err
	}
	ids := f["id"]
	if len(ids) == 0 {
		return "", back, badf("select at least one message to resend")
	}
	if len(ids) > maxPageSize {
		return "", back, badf("at most %d messages at once", maxPageSize)
	}
	var done []string
	for _, id := range ids {
		r, err := d.resend(c, id, group)
		if err != nil {
			return strings.Join(done, "; "), back, fmt.Errorf("after %d of %d: %w", len(done), len(ids), err)
		}
		done = append(done, r)
	}
	return fmt.Sprintf("%d messages resent: %s", len(done), strings.Join(done, "; ")), back, nil
}
