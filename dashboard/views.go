package dashboard

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/message"
)

const maxPageSize = 500

// Pager is the position in a paginated list; Links are the page links to show.
type Pager struct {
	Page  int    `json:"page"` // 1-based
	Size  int    `json:"size"`
	Total int    `json:"total"`
	Pages int    `json:"pages"`
	Links []Link `json:"-"`
}

// Link is one page link.
type Link struct {
	Label   string
	URL     string
	Current bool
}

// paginate clamps page and size from q and returns the pager and the [lo, hi) range of total.
func (d *Dashboard) paginate(q url.Values, total int, base string) (Pager, int, int) {
	size := atoiDefault(q.Get("size"), d.cfg.PageSize)
	size = min(max(size, 1), maxPageSize)
	pages := max((total+size-1)/size, 1)
	page := min(max(atoiDefault(q.Get("page"), 1), 1), pages)
	p := Pager{Page: page, Size: size, Total: total, Pages: pages}
	link := func(label string, n int) Link {
		v := url.Values{}
		for k, vs := range q {
			if k != "page" {
				v[k] = vs
			}
		}
		v.Set("page", strconv.Itoa(n))
		return Link{Label: label, URL: base + "?" + v.Encode(), Current: n == page}
	}
	if pages > 1 {
		if page > 1 {
			p.Links = append(p.Links, link("« prev", page-1))
		}
		for _, n := range pageWindow(page, pages) {
			if n == 0 {
				p.Links = append(p.Links, Link{Label: "…"})
				continue
			}
			p.Links = append(p.Links, link(strconv.Itoa(n), n))
		}
		if page < pages {
			p.Links = append(p.Links, link("next »", page+1))
		}
	}
	lo := (page - 1) * size
	return p, lo, min(lo+size, total)
}

// pageWindow lists page numbers to link: first, last and two around page; 0 marks a gap.
func pageWindow(page, pages int) []int {
	var out []int
	last := 0
	for n := 1; n <= pages; n++ {
		if n == 1 || n == pages || (n >= page-2 && n <= page+2) {
			if last != 0 && n > last+1 {
				out = append(out, 0)
			}
			out = append(out, n)
			last = n
		}
	}
	return out
}

func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

// masters returns the master address of every broker set the dashboard shows (Scope only when
// set), sorted by broker name.
func (d *Dashboard) masters(c context.Context) ([]string, error) {
	if d.cfg.Scope != "" {
		return []string{d.cfg.Scope}, nil
	}
	info, err := d.source(c).ClusterInfo(c)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(info.BrokerAddrTable))
	for n := range info.BrokerAddrTable {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if a := info.BrokerAddrTable[n].MasterAddr(); a != "" {
			out = append(out, a)
		}
	}
	return out, nil
}

// clusters returns the cluster names the name servers know (for forms).
func (d *Dashboard) clusters(c context.Context) []string {
	info, err := d.source(c).ClusterInfo(c)
	if err != nil {
		return nil
	}
	return info.ClusterNames()
}

// ---- overview ----

// OverviewData is the overview page.
type OverviewData struct {
	SampledAt   time.Time      `json:"sampledAt"`
	SampleEvery string         `json:"sampleEvery"`
	Error       string         `json:"error,omitempty"`
	Clusters    []ClusterData  `json:"clusters"`
	Actions     []AuditEntry   `json:"recentActions"`
	Totals      OverviewTotals `json:"totals"`
}

// OverviewTotals sums the brokers' rates.
type OverviewTotals struct {
	Brokers int     `json:"brokers"`
	InTPS   float64 `json:"inTps"`
	OutTPS  float64 `json:"outTps"`
}

// ClusterData is one cluster with its broker sets.
type ClusterData struct {
	Name string        `json:"name"`
	Sets []BrokerSetVw `json:"brokerSets"`
}

// BrokerSetVw is one broker name with its master and slaves.
type BrokerSetVw struct {
	Name    string     `json:"brokerName"`
	Brokers []BrokerVw `json:"brokers"`
}

// BrokerVw is one broker of the overview.
type BrokerVw struct {
	ID         int64         `json:"brokerId"`
	Addr       string        `json:"addr"`
	Role       string        `json:"role"`
	Version    string        `json:"version"`
	InTPS      float64       `json:"inTps"`
	OutTPS     float64       `json:"outTps"`
	DiskRatio  float64       `json:"diskUsedRatio"`
	MaxOffset  int64         `json:"commitLogMaxOffset"`
	LagBytes   int64         `json:"replicationLagBytes"`
	LagKnown   bool          `json:"replicationLagKnown"`
	LagWhy     string        `json:"replicationLagNote,omitempty"`
	Writeable  string        `json:"storeWriteable"`
	Error      string        `json:"error,omitempty"`
	Series     []sample      `json:"series"`
	TPSChart   template.HTML `json:"-"`
	LagChart   template.HTML `json:"-"`
	ChartEmpty bool          `json:"-"`
}

func (d *Dashboard) overview(_ context.Context, _ url.Values) (any, error) {
	snap := d.sampler.snapshot()
	out := &OverviewData{SampledAt: snap.At, SampleEvery: d.cfg.SampleInterval.String(), Error: snap.InfoErr, Actions: d.audit.recent(10)}
	byCluster := map[string]map[string][]BrokerVw{}
	for _, st := range snap.Brokers {
		b := BrokerVw{ID: st.ID, Addr: st.Addr, Error: st.Err, Series: st.Series}
		if rt := st.Runtime; rt != nil {
			b.Role, b.Version, b.Writeable = rt["brokerRole"], rt["brokerVersionDesc"], rt["storeWriteable"]
			b.InTPS, b.OutTPS = parseTPS(rt["putTps"]), parseTPS(rt["getTransferedTps"])
			b.DiskRatio, _ = strconv.ParseFloat(rt["commitLogDiskRatio"], 64)
			b.MaxOffset, _ = strconv.ParseInt(rt["commitLogMaxOffset"], 10, 64)
			b.LagBytes, b.LagKnown, b.LagWhy = replicationLag(rt)
			out.Totals.InTPS += b.InTPS
			out.Totals.OutTPS += b.OutTPS
		}
		out.Totals.Brokers++
		var in, outs, lag chartSeries
		in.Class, outs.Class, lag.Class = "in", "out", "lag"
		for _, s := range st.Series {
			in.Values, in.Times = append(in.Values, s.InTPS), append(in.Times, s.At)
			outs.Values, outs.Times = append(outs.Values, s.OutTPS), append(outs.Times, s.At)
			if s.LagKnown {
				lag.Values, lag.Times = append(lag.Values, float64(s.LagBytes)), append(lag.Times, s.At)
			}
		}
		b.ChartEmpty = len(st.Series) == 0
		b.TPSChart = sparkline("messages per second in and out of "+st.Addr, snap.At, d.cfg.History, "msg/s", in, outs)
		b.LagChart = sparkline("replication lag of "+st.Addr, snap.At, d.cfg.History, "bytes", lag)
		if byCluster[st.Cluster] == nil {
			byCluster[st.Cluster] = map[string][]BrokerVw{}
		}
		byCluster[st.Cluster][st.Name] = append(byCluster[st.Cluster][st.Name], b)
	}
	for _, cn := range sortedKeys(byCluster) {
		cd := ClusterData{Name: cn}
		for _, bn := range sortedKeys(byCluster[cn]) {
			cd.Sets = append(cd.Sets, BrokerSetVw{Name: bn, Brokers: byCluster[cn][bn]})
		}
		out.Clusters = append(out.Clusters, cd)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- topics ----

// TopicsData is one page of the topic list.
type TopicsData struct {
	Query    string     `json:"query"`
	Kind     string     `json:"kind"`
	Pager    Pager      `json:"pager"`
	Topics   []TopicRow `json:"topics"`
	Clusters []string   `json:"clusters"`
}

// TopicRow is one topic of the list.
type TopicRow struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"` // normal, retry, dlq, system
	Brokers []string `json:"brokers"`
	ReadQ   int32    `json:"readQueueNums"`
	WriteQ  int32    `json:"writeQueueNums"`
	Perm    string   `json:"perm"`
	Error   string   `json:"error,omitempty"`
}

var systemTopics = map[string]bool{"TBW102": true, "SELF_TEST_TOPIC": true, "SCHEDULE_TOPIC_XXXX": true, "OFFSET_MOVED_EVENT": true,
	"RMQ_SYS_TRANS_HALF_TOPIC": true, "RMQ_SYS_TRANS_OP_HALF_TOPIC": true, "TRANS_CHECK_MAX_TIME_TOPIC": true, "BenchmarkTest": true,
	"RMQ_SYS_TRACE_TOPIC": true}

// clusterTopics names the topics a broker creates after its cluster and itself (the cluster name,
// the broker name, <cluster>_REPLY_TOPIC): they count as system topics.
func clusterTopics(info *admin.ClusterInfo) map[string]bool {
	out := map[string]bool{}
	if info == nil {
		return out
	}
	for c := range info.ClusterAddrTable {
		out[c], out[c+"_REPLY_TOPIC"] = true, true
	}
	for b := range info.BrokerAddrTable {
		out[b] = true
	}
	return out
}

func topicKind(t string, sys map[string]bool) string {
	switch {
	case sys[t]:
		return "system"
	case strings.HasPrefix(t, "%RETRY%"):
		return "retry"
	case strings.HasPrefix(t, "%DLQ%"):
		return "dlq"
	case systemTopics[t] || strings.HasPrefix(t, "rmq_sys_") || strings.HasPrefix(t, "RMQ_SYS_"):
		return "system"
	default:
		return "normal"
	}
}

func permString(p int32) string {
	s := ""
	if p&admin.PermRead != 0 {
		s += "R"
	}
	if p&admin.PermWrite != 0 {
		s += "W"
	}
	if s == "" {
		s = "-"
	}
	return fmt.Sprintf("%s (%d)", s, p)
}

func (d *Dashboard) topics(c context.Context, q url.Values) (any, error) {
	query, kind := strings.TrimSpace(q.Get("q")), q.Get("kind")
	if kind == "" {
		kind = "normal"
	}
	if kind != "all" && kind != "normal" && kind != "retry" && kind != "dlq" && kind != "system" {
		return nil, badf("kind must be all, normal, retry, dlq or system, not %q", kind)
	}
	var names []string
	var scoped map[string]admin.BrokerTopicConfig
	var err error
	if d.cfg.Scope != "" {
		scoped, err = d.source(c).TopicConfigs(c, d.cfg.Scope)
		names = sortedKeys(scoped)
	} else {
		names, err = d.source(c).TopicList(c)
	}
	if err != nil {
		return nil, fmt.Errorf("topic list: %w", err)
	}
	info, _ := d.source(c).ClusterInfo(c)
	sys := clusterTopics(info)
	lq := strings.ToLower(query)
	matched := names[:0:0]
	for _, n := range names {
		if (kind == "all" || topicKind(n, sys) == kind) && (lq == "" || strings.Contains(strings.ToLower(n), lq)) {
			matched = append(matched, n)
		}
	}
	sort.Strings(matched)
	out := &TopicsData{Query: query, Kind: kind}
	if info != nil {
		out.Clusters = info.ClusterNames()
	}
	var lo, hi int
	out.Pager, lo, hi = d.paginate(q, len(matched), PagePrefix+"topics")
	out.Topics = make([]TopicRow, hi-lo)
	parallel(hi-lo, func(i int) {
		name := matched[lo+i]
		row := TopicRow{Name: name, Kind: topicKind(name, sys)}
		if scoped != nil {
			tc := scoped[name]
			row.ReadQ, row.WriteQ, row.Perm = tc.ReadQueueNums, tc.WriteQueueNums, permString(tc.Perm)
		} else if r, err := d.source(c).TopicRoute(c, name); err != nil {
			row.Error = err.Error()
		} else {
			perm := int32(-1)
			for _, qd := range r.QueueDatas {
				row.Brokers = append(row.Brokers, qd.BrokerName)
				row.ReadQ += qd.ReadQueueNums
				row.WriteQ += qd.WriteQueueNums
				if perm < 0 {
					perm = qd.Perm
				}
			}
			sort.Strings(row.Brokers)
			row.Perm = permString(max(perm, 0))
		}
		out.Topics[i] = row
	})
	return out, nil
}

// TopicData is one topic: its route and queues.
type TopicData struct {
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	Route    *admin.TopicRoute `json:"route"`
	Queues   []QueueRow        `json:"queues"`
	Messages int64             `json:"messages"`
	Clusters []string          `json:"clusters"`
	Perm     int32             `json:"perm"`
	ReadQ    int32             `json:"readQueueNums"`
	WriteQ   int32             `json:"writeQueueNums"`
	Order    bool              `json:"order"`
	Errors   []string          `json:"errors,omitempty"`
}

// QueueRow is one queue of a topic with its offsets and retained span.
type QueueRow struct {
	Broker    string `json:"brokerName"`
	QueueID   int32  `json:"queueId"`
	Min       int64  `json:"minOffset"`
	Max       int64  `json:"maxOffset"`
	Messages  int64  `json:"messages"`
	Earliest  int64  `json:"earliestStoreTime"` // ms; 0 when empty
	Latest    int64  `json:"latestStoreTime"`   // ms; 0 when empty
	Retention string `json:"retainedSpan"`
}

func (d *Dashboard) topic(c context.Context, q url.Values) (any, error) {
	name := strings.TrimSpace(q.Get("topic"))
	if name == "" {
		return nil, badf("query parameter topic is required")
	}
	info, _ := d.source(c).ClusterInfo(c)
	out := &TopicData{Name: name, Kind: topicKind(name, clusterTopics(info)), Clusters: d.clusters(c)}
	r, err := d.source(c).TopicRoute(c, name)
	if err != nil {
		if errors.Is(err, admin.ErrTopicNotExist) {
			return nil, badf("topic %q does not exist (no name server has a route for it)", name)
		}
		return nil, err
	}
	out.Route = r
	addrOf := map[string]string{}
	for _, bd := range r.BrokerDatas {
		addrOf[bd.BrokerName] = bd.MasterAddr()
	}
	for _, qd := range r.QueueDatas {
		out.Perm, out.ReadQ, out.WriteQ = qd.Perm, max(out.ReadQ, qd.ReadQueueNums), max(out.WriteQ, qd.WriteQueueNums)
	}
	out.Order = r.OrderTopicConf != ""
	st, err := d.source(c).TopicStatus(c, name)
	if err != nil {
		out.Errors = append(out.Errors, "queue offsets: "+err.Error())
	}
	rows := make([]QueueRow, len(st))
	errs := make([]string, len(st))
	parallel(len(st), func(i int) {
		s := st[i]
		row := QueueRow{Broker: s.BrokerName, QueueID: s.QueueID, Min: s.MinOffset, Max: s.MaxOffset, Messages: max(s.MaxOffset-s.MinOffset, 0)}
		if row.Messages > 0 {
			row.Latest = s.LastUpdateTimestamp
			e, err := d.source(c).EarliestStoreTime(c, addrOf[s.BrokerName], name, s.QueueID)
			if err != nil {
				errs[i] = fmt.Sprintf("earliest store time of %s queue %d: %v", s.BrokerName, s.QueueID, err)
			} else {
				row.Earliest = e
			}
		}
		row.Retention = retained(row)
		rows[i] = row
	})
	for _, e := range errs {
		if e != "" {
			out.Errors = append(out.Errors, e)
		}
	}
	for _, r := range rows {
		out.Messages += r.Messages
	}
	out.Queues = rows
	return out, nil
}

func retained(r QueueRow) string {
	switch {
	case r.Messages == 0:
		return "empty"
	case r.Earliest == 0 || r.Latest == 0:
		return "unknown (store times not available)"
	default:
		return humanDuration(time.Duration(max(r.Latest-r.Earliest, 0)) * time.Millisecond)
	}
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	default:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	}
}

// ---- consumer groups ----

// Lag is a consumer lag that is either known or explained.
type Lag struct {
	Value int64  `json:"value"`
	Known bool   `json:"known"`
	Why   string `json:"why,omitempty"` // set when !Known
}

// GroupsData is one page of the group list.
type GroupsData struct {
	Query  string     `json:"query"`
	System bool       `json:"system"`
	Pager  Pager      `json:"pager"`
	Groups []GroupRow `json:"groups"`
	Errors []string   `json:"errors,omitempty"`
}

// GroupRow is one group of the list.
type GroupRow struct {
	Name      string   `json:"name"`
	Brokers   []string `json:"brokers"`
	Lag       Lag      `json:"lag"`
	Online    int      `json:"onlineClients"`
	Model     string   `json:"messageModel,omitempty"`
	OnlineErr string   `json:"onlineError,omitempty"`
}

var systemGroups = map[string]bool{"TOOLS_CONSUMER": true, "FILTERSRV_CONSUMER": true, "__MONITOR_CONSUMER": true,
	"CLIENT_INNER_PRODUCER": true, "SELF_TEST_P_GROUP": true, "SELF_TEST_C_GROUP": true, "CID_ONS-HTTP-PROXY": true,
	"CID_ONSAPI_PERMISSION": true, "CID_ONSAPI_OWNER": true, "CID_ONSAPI_PULL": true, "CID_RMQ_SYS_TRANS": true,
	"SKIFF_ADMIN_CONSUMER": true}

// groupBrokers lists every group on the masters with the masters that know it.
func (d *Dashboard) groupBrokers(c context.Context) (map[string][]string, []string, error) {
	ms, err := d.masters(c)
	if err != nil {
		return nil, nil, err
	}
	out := map[string][]string{}
	var errs []string
	for _, addr := range ms {
		gs, err := d.source(c).SubGroups(c, addr)
		if err != nil {
			errs = append(errs, fmt.Sprintf("groups of %s: %v", addr, err))
			continue
		}
		for g := range gs {
			out[g] = append(out[g], addr)
		}
	}
	return out, errs, nil
}

func (d *Dashboard) groups(c context.Context, q url.Values) (any, error) {
	query := strings.TrimSpace(q.Get("q"))
	system := q.Get("system") == "1" || q.Get("system") == "true"
	all, errs, err := d.groupBrokers(c)
	if err != nil {
		return nil, err
	}
	lq := strings.ToLower(query)
	var names []string
	for g := range all {
		if (system || !systemGroups[g]) && (lq == "" || strings.Contains(strings.ToLower(g), lq)) {
			names = append(names, g)
		}
	}
	sort.Strings(names)
	out := &GroupsData{Query: query, System: system, Errors: errs}
	var lo, hi int
	out.Pager, lo, hi = d.paginate(q, len(names), PagePrefix+"groups")
	out.Groups = make([]GroupRow, hi-lo)
	parallel(hi-lo, func(i int) {
		g := names[lo+i]
		row := GroupRow{Name: g, Brokers: all[g]}
		prog, err := d.source(c).ConsumerProgress(c, all[g], g, "")
		row.Lag = lagOf(prog, err)
		for _, addr := range all[g] {
			cc, err := d.source(c).ConsumerConnection(c, addr, g)
			if err != nil {
				if !notOnline(err) {
					row.OnlineErr = err.Error()
				}
				continue
			}
			row.Online = max(row.Online, len(cc.ConnectionSet))
			row.Model = cc.MessageModel
		}
		if !row.Lag.Known && row.Model == "BROADCASTING" {
			row.Lag.Why = "broadcasting consumers keep their offsets on the client; the brokers have none"
		}
		out.Groups[i] = row
	})
	return out, nil
}

// notOnline reports a CONSUMER_NOT_ONLINE (206) answer.
func notOnline(err error) bool {
	var be *admin.BrokerError
	return errors.As(err, &be) && be.Code == 206
}

// lagOf sums the lag of progress rows, or says why it is unknown. A row whose consumer offset is
// negative (never committed) is left out and named.
func lagOf(prog []admin.QueueProgress, err error) Lag {
	if err != nil {
		return Lag{Why: "the brokers could not be asked: " + err.Error()}
	}
	if len(prog) == 0 {
		return Lag{Why: "no offsets committed on any broker yet: the group has not consumed, or it consumes in broadcasting mode (offsets stay on the client)"}
	}
	var l Lag
	uncommitted := 0
	for _, p := range prog {
		if p.ConsumerOffset < 0 {
			uncommitted++
			continue
		}
		l.Value += max(p.BrokerOffset-p.ConsumerOffset, 0)
		l.Known = true
	}
	if !l.Known {
		return Lag{Why: fmt.Sprintf("none of its %d queues has a committed offset yet", len(prog))}
	}
	if uncommitted > 0 {
		l.Why = fmt.Sprintf("%d queues without a committed offset are not counted", uncommitted)
	}
	return l
}

// GroupData is one consumer group.
type GroupData struct {
	Name        string                                   `json:"name"`
	Brokers     []string                                 `json:"brokers"`
	Configs     map[string]admin.SubscriptionGroupConfig `json:"configs"`
	Lag         Lag                                      `json:"lag"`
	Queues      []GroupQueue                             `json:"queues"`
	Topics      []string                                 `json:"topics"`
	Connections []ConnRow                                `json:"connections"`
	Online      string                                   `json:"online"`
	Model       string                                   `json:"messageModel,omitempty"`
	ConsumeType string                                   `json:"consumeType,omitempty"`
	From        string                                   `json:"consumeFromWhere,omitempty"`
	Subs        []string                                 `json:"subscriptions,omitempty"`
	Errors      []string                                 `json:"errors,omitempty"`
}

// GroupQueue is one queue of a group's progress.
type GroupQueue struct {
	Topic          string `json:"topic"`
	Broker         string `json:"brokerName"`
	QueueID        int32  `json:"queueId"`
	BrokerOffset   int64  `json:"brokerOffset"`
	ConsumerOffset int64  `json:"consumerOffset"`
	Lag            Lag    `json:"lag"`
	LastTimestamp  int64  `json:"lastTimestamp"`
}

// ConnRow is one client connection.
type ConnRow struct {
	Broker   string `json:"broker"`
	ClientID string `json:"clientId"`
	Addr     string `json:"clientAddr"`
	Language string `json:"language"`
	Version  string `json:"version"`
}

func (d *Dashboard) group(c context.Context, q url.Values) (any, error) {
	g := strings.TrimSpace(q.Get("group"))
	if g == "" {
		return nil, badf("query parameter group is required")
	}
	ms, err := d.masters(c)
	if err != nil {
		return nil, err
	}
	out := &GroupData{Name: g, Configs: map[string]admin.SubscriptionGroupConfig{}}
	for _, addr := range ms {
		gs, err := d.source(c).SubGroups(c, addr)
		if err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("groups of %s: %v", addr, err))
			continue
		}
		if cfg, ok := gs[g]; ok {
			out.Brokers = append(out.Brokers, addr)
			out.Configs[addr] = cfg
		}
	}
	if len(out.Brokers) == 0 && len(out.Errors) == 0 {
		return nil, badf("consumer group %q does not exist on any broker", g)
	}
	prog, err := d.source(c).ConsumerProgress(c, out.Brokers, g, "")
	out.Lag = lagOf(prog, err)
	topics := map[string]bool{}
	for _, p := range prog {
		gq := GroupQueue{Topic: p.Topic, Broker: p.BrokerName, QueueID: p.QueueID, BrokerOffset: p.BrokerOffset,
			ConsumerOffset: p.ConsumerOffset, LastTimestamp: p.LastTimestamp}
		if p.ConsumerOffset < 0 {
			gq.Lag = Lag{Why: "no committed offset yet"}
		} else {
			gq.Lag = Lag{Value: max(p.BrokerOffset-p.ConsumerOffset, 0), Known: true}
		}
		out.Queues = append(out.Queues, gq)
		topics[p.Topic] = true
	}
	online := false
	for _, addr := range out.Brokers {
		cc, err := d.source(c).ConsumerConnection(c, addr, g)
		if err != nil {
			if !notOnline(err) {
				out.Errors = append(out.Errors, fmt.Sprintf("connections on %s: %v", addr, err))
			}
			continue
		}
		online = true
		out.Model, out.ConsumeType, out.From = cc.MessageModel, cc.ConsumeType, cc.ConsumeFromWhere
		for t := range cc.SubscriptionTable {
			if !slices.Contains(out.Subs, t) {
				out.Subs = append(out.Subs, t)
			}
			if !strings.HasPrefix(t, "%RETRY%") {
				topics[t] = true
			}
		}
		for _, cn := range cc.ConnectionSet {
			out.Connections = append(out.Connections, ConnRow{Broker: addr, ClientID: cn.ClientID, Addr: cn.ClientAddr,
				Language: cn.Language, Version: clientVersion(cn.Version)})
		}
	}
	sort.Strings(out.Subs)
	if online {
		out.Online = fmt.Sprintf("%d connections", len(out.Connections))
	} else {
		out.Online = "no consumer of this group is connected"
	}
	if !out.Lag.Known && out.Model == "BROADCASTING" {
		out.Lag.Why = "broadcasting consumers keep their offsets on the client; the brokers have none"
	}
	delete(topics, "")
	out.Topics = sortedKeys(topics)
	return out, nil
}

// clientVersion names a RocketMQ client version code (MQVersion ordinal) when it is a known one.
func clientVersion(v int32) string {
	names := map[int32]string{317: "V4_3_0 (rocketmq-client-go v2)", 373: "V4_5_2", 395: "V4_7_1", 399: "V4_8_0",
		409: "V4_9_1", 411: "V4_9_3", 413: "V4_9_4"}
	if n, ok := names[v]; ok {
		return fmt.Sprintf("%d %s", v, n)
	}
	return strconv.Itoa(int(v))
}

// ---- producers ----

// ProducersData lists producer groups with their connections and the topics each connection
// sent to, filtered by part of a group name (q) and part of a topic name (topic).
type ProducersData struct {
	Query  string        `json:"query"`
	Topic  string        `json:"topic"`
	Pager  Pager         `json:"pager"`
	Groups []ProducerRow `json:"groups"`
	Errors []string      `json:"errors,omitempty"`
}

// ProducerRow is one producer group: the topics its connections sent to (the union) and the
// connections.
type ProducerRow struct {
	Group       string        `json:"group"`
	Topics      []string      `json:"topics"`
	Connections []ProducerCon `json:"connections"`
}

// ProducerCon is one producer connection with the topics it stored messages in as the group.
type ProducerCon struct {
	ConnRow
	Topics     []string `json:"topics"`
	MoreTopics bool     `json:"moreTopics,omitempty"`
}

func (d *Dashboard) producers(c context.Context, q url.Values) (any, error) {
	ms, err := d.masters(c)
	if err != nil {
		return nil, err
	}
	query := strings.ToLower(strings.TrimSpace(q.Get("q")))
	topicQ := strings.ToLower(strings.TrimSpace(q.Get("topic")))
	out := &ProducersData{Query: strings.TrimSpace(q.Get("q")), Topic: strings.TrimSpace(q.Get("topic"))}
	byGroup := map[string][]ProducerCon{}
	for _, addr := range ms {
		all, err := d.source(c).AllProducers(c, addr)
		if err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("producers on %s: %v", addr, err))
			continue
		}
		for g, list := range all {
			if query != "" && !strings.Contains(strings.ToLower(g), query) {
				continue
			}
			for _, p := range list {
				pc := ProducerCon{ConnRow: ConnRow{Broker: addr, ClientID: p.ClientID, Addr: p.RemoteIP, Language: p.Language,
					Version: clientVersion(p.Version)}, Topics: p.Topics, MoreTopics: p.MoreTopics}
				if topicQ != "" && !slices.ContainsFunc(p.Topics, func(t string) bool { return strings.Contains(strings.ToLower(t), topicQ) }) {
					continue
				}
				if pc.Topics == nil {
					pc.Topics = []string{}
				}
				byGroup[g] = append(byGroup[g], pc)
			}
		}
	}
	names := sortedKeys(byGroup)
	var lo, hi int
	out.Pager, lo, hi = d.paginate(q, len(names), PagePrefix+"producers")
	for _, g := range names[lo:hi] {
		row := ProducerRow{Group: g, Topics: []string{}, Connections: byGroup[g]}
		for _, pc := range row.Connections {
			for _, t := range pc.Topics {
				if !slices.Contains(row.Topics, t) {
					row.Topics = append(row.Topics, t)
				}
			}
		}
		sort.Strings(row.Topics)
		out.Groups = append(out.Groups, row)
	}
	return out, nil
}

// ---- messages ----

// MessagesData is a message search and its results. A search by topic and time range shows
// maxResults messages a page, in (store time, broker, queue, offset) order; After is the
// position the page starts after (empty for the first page) and Next the one the next page
// starts after (empty on the last page).
type MessagesData struct {
	Mode      string       `json:"mode"` // id, key, time
	Topic     string       `json:"topic"`
	Key       string       `json:"key"`
	ID        string       `json:"id"`
	Begin     string       `json:"begin"`
	End       string       `json:"end"`
	TimeHint  string       `json:"-"`
	After     string       `json:"after,omitempty"`
	Next      string       `json:"next,omitempty"`
	NextURL   string       `json:"-"`
	FirstURL  string       `json:"-"`
	Results   []MessageRow `json:"results"`
	PageLimit int          `json:"pageLimit"`
	Note      string       `json:"note,omitempty"`
	Errors    []string     `json:"errors,omitempty"`
}

// MessageRow is one message found. The timestamps are milliseconds since the epoch; the
// ...Text fields are the same instants in UTC with the zone written out.
type MessageRow struct {
	OffsetID   string `json:"offsetMsgId"`
	UniqKey    string `json:"msgId"`
	Topic      string `json:"topic"`
	Tags       string `json:"tags"`
	Keys       string `json:"keys"`
	Broker     string `json:"brokerName,omitempty"`
	QueueID    int32  `json:"queueId"`
	Offset     int64  `json:"queueOffset"`
	StoreTime  int64  `json:"storeTimestamp"`
	StoreText  string `json:"storeTime"`
	BornTime   int64  `json:"bornTimestamp"`
	BornText   string `json:"bornTime"`
	Size       int    `json:"bodySize"`
	Reconsumed int32  `json:"reconsumeTimes"`
	storeHost  string // for nameBrokers
}

func rowOf(m *message.Message) MessageRow {
	return MessageRow{OffsetID: message.OffsetMsgID(m.StoreHost, m.CommitLogOffset), UniqKey: m.UniqKey(), Topic: m.Topic,
		Tags: m.Tags(), Keys: strings.Join(m.Keys(), " "), QueueID: m.QueueID, Offset: m.QueueOffset,
		StoreTime: m.StoreTimestamp, StoreText: formatMillis(m.StoreTimestamp), BornTime: m.BornTimestamp,
		BornText: formatMillis(m.BornTimestamp), Size: len(m.Body), Reconsumed: m.ReconsumeTimes, storeHost: m.StoreHost.String()}
}

// maxResults is the page size of the time-range search and the limit of the id and key searches.
const maxResults = 64

// maxScanPerQueue bounds the messages one page reads from one queue (the messages outside the
// range or at or before the cursor that it reads past); a queue that needs more is named in the
// page's errors.
const maxScanPerQueue = 16 * maxResults

// cursor is a position in the time-range order: (store time, broker, queue, offset).
type cursor struct {
	storeTime int64
	broker    string
	queueID   int32
	offset    int64
}

func cursorOf(r MessageRow) cursor {
	return cursor{storeTime: r.StoreTime, broker: r.Broker, queueID: r.QueueID, offset: r.Offset}
}

// String is the cursor as the after parameter: <store ms>-<queue>-<offset>-<broker name>.
func (c cursor) String() string {
	return fmt.Sprintf("%d-%d-%d-%s", c.storeTime, c.queueID, c.offset, c.broker)
}

// parseCursor reads an after parameter.
func parseCursor(s string) (cursor, error) {
	parts := strings.SplitN(s, "-", 4)
	bad := badf("after %q is not a page position (<store ms>-<queue>-<offset>-<broker>, as the next-page link has it)", s)
	if len(parts) != 4 || parts[3] == "" {
		return cursor{}, bad
	}
	ts, err1 := strconv.ParseInt(parts[0], 10, 64)
	q, err2 := strconv.ParseInt(parts[1], 10, 32)
	off, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || ts < 0 || q < 0 || off < 0 {
		return cursor{}, bad
	}
	return cursor{storeTime: ts, queueID: int32(q), offset: off, broker: parts[3]}, nil
}

// less orders messages of the time-range search.
func (c cursor) less(o cursor) bool {
	if c.storeTime != o.storeTime {
		return c.storeTime < o.storeTime
	}
	if c.broker != o.broker {
		return c.broker < o.broker
	}
	if c.queueID != o.queueID {
		return c.queueID < o.queueID
	}
	return c.offset < o.offset
}

func (d *Dashboard) messages(c context.Context, q url.Values) (any, error) {
	now := d.cfg.Now().UTC()
	out := &MessagesData{Mode: q.Get("mode"), Topic: strings.TrimSpace(q.Get("topic")), Key: strings.TrimSpace(q.Get("key")),
		ID: strings.TrimSpace(q.Get("id")), Begin: strings.TrimSpace(q.Get("begin")), End: strings.TrimSpace(q.Get("end")),
		TimeHint: TimeInputHint, After: strings.TrimSpace(q.Get("after")), PageLimit: maxResults}
	if out.Begin == "" {
		out.Begin = now.Add(-time.Hour).Format(inputLayout)
	}
	if out.End == "" {
		out.End = now.Add(time.Minute).Format(inputLayout)
	}
	switch out.Mode {
	case "":
		return out, nil
	case "id":
		if out.ID == "" {
			return nil, badf("enter a message id")
		}
		if m, err := d.source(c).ViewMessage(c, out.ID); err == nil {
			out.Results = append(out.Results, rowOf(m))
			return out, nil
		} else if out.Topic == "" {
			return nil, badf("%v (a unique key — the producer's msgId — needs the topic too)", err)
		}
		ms, err := d.source(c).QueryByKey(c, out.Topic, out.ID, true, maxResults, 0, now.UnixMilli()+60_000)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out.Results = append(out.Results, rowOf(m))
		}
	case "key":
		if out.Topic == "" || out.Key == "" {
			return nil, badf("searching by key needs a topic and a key")
		}
		ms, err := d.source(c).QueryByKey(c, out.Topic, out.Key, false, maxResults, 0, now.UnixMilli()+60_000)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out.Results = append(out.Results, rowOf(m))
		}
	case "time":
		if out.Topic == "" {
			return nil, badf("searching by time needs a topic")
		}
		begin, err := parseTime(out.Begin, now.Add(-time.Hour))
		if err != nil {
			return nil, err
		}
		end, err := parseTime(out.End, now)
		if err != nil {
			return nil, err
		}
		if end.Before(begin) {
			return nil, badf("the end %s is before the begin %s", formatTime(end), formatTime(begin))
		}
		var after *cursor
		if out.After != "" {
			cur, err := parseCursor(out.After)
			if err != nil {
				return nil, err
			}
			after = &cur
		}
		rows, more, errs, err := d.byTime(c, out.Topic, begin.UnixMilli(), end.UnixMilli(), after)
		if err != nil {
			return nil, err
		}
		out.Results, out.Errors = rows, errs
		link := func(after string) string {
			v := url.Values{"mode": {"time"}, "topic": {out.Topic}, "begin": {out.Begin}, "end": {out.End}}
			if after != "" {
				v.Set("after", after)
			}
			return PagePrefix + "messages?" + v.Encode()
		}
		if more && len(rows) > 0 {
			out.Next = cursorOf(rows[len(rows)-1]).String()
			out.NextURL = link(out.Next)
		}
		if after != nil {
			out.FirstURL = link("")
		}
	default:
		return nil, badf("mode must be id, key or time, not %q", out.Mode)
	}
	if out.Mode != "time" && len(out.Results) > 0 {
		d.nameBrokers(c, out.Results)
	}
	return out, nil
}

// nameBrokers fills the broker name of rows found by id or key from their store hosts (a
// broker's address in the cluster); a host no broker of the cluster has stays unnamed.
func (d *Dashboard) nameBrokers(c context.Context, rows []MessageRow) {
	info, err := d.source(c).ClusterInfo(c)
	if err != nil {
		return
	}
	byAddr := map[string]string{}
	for name, bd := range info.BrokerAddrTable {
		for _, a := range bd.BrokerAddrs {
			byAddr[a] = name
		}
	}
	for i := range rows {
		rows[i].Broker = byAddr[rows[i].storeHost]
	}
}

// byTime reads one page of the messages of topic stored in [begin, end] ms, after the cursor
// when there is one: at most maxResults, in cursor order, and whether more follow. Each queue is
// read from the offset SEARCH_OFFSET_BY_TIMESTAMP gives for a millisecond before the page's
// lowest possible store time (the broker may answer any offset among messages stored in the same
// millisecond, or the nearer neighbour: one earlier starts the read before them all), up to
// maxResults+1 messages in the page's range, past the end of the range, or to the queue's end.
// A message among the first maxResults of the page is among the first maxResults+1 of its queue,
// so the merge of the queues' reads is the page.
func (d *Dashboard) byTime(c context.Context, topic string, begin, end int64, after *cursor) ([]MessageRow, bool, []string, error) {
	r, err := d.source(c).TopicRoute(c, topic)
	if err != nil {
		return nil, false, nil, err
	}
	low := begin
	if after != nil {
		low = max(low, after.storeTime)
	}
	type queue struct {
		broker, addr string
		id           int32
	}
	var queues []queue
	var errs []string
	for _, qd := range r.QueueDatas {
		addr := ""
		for _, bd := range r.BrokerDatas {
			if bd.BrokerName == qd.BrokerName {
				addr = bd.MasterAddr()
			}
		}
		if addr == "" {
			errs = append(errs, fmt.Sprintf("broker %s has no master online", qd.BrokerName))
			continue
		}
		for qid := int32(0); qid < qd.ReadQueueNums; qid++ {
			queues = append(queues, queue{qd.BrokerName, addr, qid})
		}
	}
	found := make([][]MessageRow, len(queues))
	qerrs := make([]string, len(queues))
	parallel(len(queues), func(i int) {
		qu := queues[i]
		off, err := d.source(c).SearchOffset(c, qu.addr, topic, qu.id, max(low-1, 0))
		if err != nil {
			qerrs[i] = fmt.Sprintf("%s queue %d: %v", qu.broker, qu.id, err)
			return
		}
		scanned := 0
		for len(found[i]) <= maxResults {
			if scanned >= maxScanPerQueue {
				qerrs[i] = fmt.Sprintf("%s queue %d: stopped after reading %d messages outside the page; narrow the time range", qu.broker, qu.id, scanned)
				return
			}
			ms, err := d.source(c).PullMessages(c, topic, qu.broker, qu.id, off, maxResults+1)
			if err != nil {
				qerrs[i] = fmt.Sprintf("%s queue %d: %v", qu.broker, qu.id, err)
				return
			}
			if len(ms) == 0 {
				return // the queue's end
			}
			for _, m := range ms {
				off = m.QueueOffset + 1
				if m.StoreTimestamp > end {
					return
				}
				row := rowOf(m.Message)
				row.Broker, row.QueueID = qu.broker, qu.id
				if m.StoreTimestamp < begin || (after != nil && !after.less(cursorOf(row))) {
					scanned++
					continue
				}
				found[i] = append(found[i], row)
				if len(found[i]) > maxResults {
					return
				}
			}
		}
	})
	var rows []MessageRow
	for i := range queues {
		rows = append(rows, found[i]...)
		if qerrs[i] != "" {
			errs = append(errs, qerrs[i])
		}
	}
	sort.Slice(rows, func(i, j int) bool { return cursorOf(rows[i]).less(cursorOf(rows[j])) })
	more := len(rows) > maxResults
	if more {
		rows = rows[:maxResults]
	}
	return rows, more, errs, nil
}

// MessageData is one message in full.
type MessageData struct {
	MessageRow
	StoreHost  string            `json:"storeHost"`
	BornHost   string            `json:"bornHost"`
	Properties map[string]string `json:"properties"`
	View       string            `json:"view"` // text or hex
	Body       string            `json:"body"`
	BodyNote   string            `json:"bodyNote,omitempty"`
	PropKeys   []string          `json:"-"`
	Groups     []string          `json:"-"` // for the resend form
}

func (d *Dashboard) message(c context.Context, q url.Values) (any, error) {
	id := strings.TrimSpace(q.Get("id"))
	if id == "" {
		return nil, badf("query parameter id (an offset message id) is required")
	}
	m, err := d.source(c).ViewMessage(c, id)
	if err != nil {
		if errors.Is(err, admin.ErrInvalidArgument) {
			return nil, badf("%v", err)
		}
		return nil, err
	}
	out := &MessageData{MessageRow: rowOf(m), StoreHost: m.StoreHost.String(), BornHost: m.BornHost.String(),
		Properties: m.Properties, PropKeys: sortedKeys(m.Properties), View: q.Get("view")}
	if out.View != "hex" && out.View != "text" {
		out.View = "text"
		if !printable(m.Body) {
			out.View = "hex"
			out.BodyNote = "the body is not printable UTF-8 text, so it is shown in hex"
		}
	}
	if out.View == "hex" {
		out.Body = hexDump(m.Body)
	} else {
		out.Body = strings.ToValidUTF8(string(m.Body), "\uFFFD")
	}
	if all, _, err := d.groupBrokers(c); err == nil {
		for g := range all {
			if !systemGroups[g] {
				out.Groups = append(out.Groups, g)
			}
		}
		sort.Strings(out.Groups)
		if len(out.Groups) > 200 {
			out.Groups = out.Groups[:200]
		}
	}
	return out, nil
}

func printable(b []byte) bool {
	s := string(b)
	if !strings.ContainsRune(s, '\uFFFD') && !utf8Valid(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func hexDump(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i += 16 {
		line := b[i:min(i+16, len(b))]
		fmt.Fprintf(&sb, "%08x  ", i)
		for j := 0; j < 16; j++ {
			if j < len(line) {
				fmt.Fprintf(&sb, "%02x ", line[j])
			} else {
				sb.WriteString("   ")
			}
		}
		sb.WriteString(" |")
		for _, c := range line {
			if c >= 0x20 && c < 0x7f {
				sb.WriteByte(c)
			} else {
				sb.WriteByte('.')
			}
		}
		sb.WriteString("|\n")
	}
	return sb.String()
}

// DLQData is one page of a group's dead-letter queue.
type DLQData struct {
	Group    string   `json:"group"`
	Topic    string   `json:"topic"`
	Offset   int64    `json:"offset"`
	Next     int64    `json:"nextOffset"`
	Min, Max int64    `json:"-"`
	Messages []DLQRow `json:"messages"`
	Note     string   `json:"note,omitempty"`
}

// DLQRow is one dead-lettered message.
type DLQRow struct {
	MessageRow
	OriginTopic string `json:"originTopic"`
	Broker      string `json:"brokerName"`
	Preview     string `json:"bodyPreview"`
}

func (d *Dashboard) dlq(c context.Context, q url.Values) (any, error) {
	g := strings.TrimSpace(q.Get("group"))
	if g == "" {
		return &DLQData{}, nil
	}
	out := &DLQData{Group: g, Topic: "%DLQ%" + g, Offset: -1}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, badf("offset %q is not a non-negative number", s)
		}
		out.Offset = n
	}
	ms, err := d.source(c).PullMessages(c, out.Topic, "", -1, out.Offset, d.cfg.PageSize)
	if err != nil {
		if errors.Is(err, admin.ErrTopicNotExist) {
			out.Note = "the group has no dead-letter queue: no message of it exhausted its retries"
			return out, nil
		}
		return nil, err
	}
	for _, m := range ms {
		r := DLQRow{MessageRow: rowOf(m.Message), OriginTopic: m.Properties[message.PropertyRetryTopic], Broker: m.BrokerName,
			Preview: preview(m.Body)}
		out.Messages = append(out.Messages, r)
		out.Next = max(out.Next, m.QueueOffset+1)
	}
	if len(ms) == 0 {
		out.Note = "no messages at this offset"
	}
	return out, nil
}

func preview(b []byte) string {
	if !printable(b) {
		return fmt.Sprintf("(%d bytes, binary)", len(b))
	}
	s := string(b)
	if len(s) > 80 {
		s = strings.ToValidUTF8(s[:80], "") + "…"
	}
	return s
}

// ---- broker configuration and name servers ----

// ConfigData is one broker's configuration.
type ConfigData struct {
	Broker  string      `json:"broker"`
	Brokers []string    `json:"brokers"`
	Query   string      `json:"query"`
	Items   [][2]string `json:"items"`
}

func (d *Dashboard) brokerConfig(c context.Context, q url.Values) (any, error) {
	out := &ConfigData{Broker: strings.TrimSpace(q.Get("broker")), Query: strings.TrimSpace(q.Get("q"))}
	if d.cfg.Scope != "" {
		out.Brokers = []string{d.cfg.Scope}
	} else if info, err := d.source(c).ClusterInfo(c); err == nil {
		for _, t := range d.targets(info) {
			out.Brokers = append(out.Brokers, t.addr)
		}
	} else {
		return nil, err
	}
	if out.Broker == "" && len(out.Brokers) > 0 {
		out.Broker = out.Brokers[0]
	}
	if out.Broker == "" {
		return out, nil
	}
	if !slices.Contains(out.Brokers, out.Broker) {
		return nil, badf("%q is not a broker of this cluster", out.Broker)
	}
	text, err := d.source(c).BrokerConfig(c, out.Broker)
	if err != nil {
		return nil, err
	}
	lq := strings.ToLower(out.Query)
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || (lq != "" && !strings.Contains(strings.ToLower(k), lq)) {
			continue
		}
		out.Items = append(out.Items, [2]string{k, v})
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i][0] < out.Items[j][0] })
	return out, nil
}

// NameServersData lists the name servers known to the dashboard and the brokers.
type NameServersData struct {
	Servers []NameServerRow `json:"nameServers"`
}

// NameServerRow is one name server.
type NameServerRow struct {
	Addr    string   `json:"addr"`
	KnownBy []string `json:"knownBy"`
	Brokers int      `json:"brokers"`
	Status  string   `json:"status"`
}

func (d *Dashboard) nameServers(c context.Context, _ url.Values) (any, error) {
	known := map[string][]string{}
	for _, a := range d.source(c).NameServers() {
		known[a] = append(known[a], "this dashboard")
	}
	if info, err := d.source(c).ClusterInfo(c); err == nil {
		for _, t := range d.targets(info) {
			text, err := d.source(c).BrokerConfig(c, t.addr)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(text, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "namesrvAddr="); ok {
					for _, a := range strings.Split(v, ";") {
						if a = strings.TrimSpace(a); a != "" && !slices.Contains(known[a], "broker "+t.addr) {
							known[a] = append(known[a], "broker "+t.addr)
						}
					}
				}
			}
		}
	}
	addrs := sortedKeys(known)
	out := &NameServersData{Servers: make([]NameServerRow, len(addrs))}
	parallel(len(addrs), func(i int) {
		r := NameServerRow{Addr: addrs[i], KnownBy: known[addrs[i]]}
		n, err := d.source(c).NameServerBrokers(c, addrs[i])
		if err != nil {
			r.Status = "unreachable: " + err.Error()
		} else {
			r.Status, r.Brokers = "up", n
		}
		out.Servers[i] = r
	})
	return out, nil
}
