package dashboard

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skiffmq/skiff/client/admin"
)

// sample is one reading of a broker's runtime info.
type sample struct {
	At       time.Time `json:"at"`
	InTPS    float64   `json:"inTps"`
	OutTPS   float64   `json:"outTps"`
	LagBytes int64     `json:"lagBytes"` // replication lag; meaningful when LagKnown
	LagKnown bool      `json:"lagKnown"`
}

// brokerState is what the sampler knows of one broker address.
type brokerState struct {
	Cluster, Name, Addr string
	ID                  int64
	Runtime             map[string]string
	Err                 string
	At                  time.Time
	Series              []sample // oldest first, within History
}

// snapshot is a consistent copy of the sampler's state, safe to read without locks.
type snapshot struct {
	At      time.Time
	Info    *admin.ClusterInfo
	InfoErr string
	Brokers []*brokerState // sorted by cluster, name, id
}

// sampler reads every broker's runtime info (GET_BROKER_RUNTIME_INFO, answered by the broker from
// its counters and store statistics) every SampleInterval and keeps the last History of TPS and
// replication lag in memory. Concurrency: model (b), mu guards the state and is never held during a
// cluster call; run makes samples single-flight.
type sampler struct {
	d   *Dashboard
	run sync.Mutex // one sample at a time

	mu      sync.Mutex
	at      time.Time
	info    *admin.ClusterInfo
	infoErr string
	brokers map[string]*brokerState // by address
}

func newSampler(d *Dashboard) *sampler { return &sampler{d: d, brokers: map[string]*brokerState{}} }

func (s *sampler) loop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	s.sampleOnce()
	t := time.NewTicker(s.d.cfg.SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.sampleOnce()
		}
	}
}

// target is one broker address to sample.
type target struct {
	cluster, name, addr string
	id                  int64
}

// targets lists the broker addresses of info (only Scope when set), sorted.
func (d *Dashboard) targets(info *admin.ClusterInfo) []target {
	var out []target
	if info != nil {
		for cluster, names := range info.ClusterAddrTable {
			for _, n := range names {
				for id, addr := range info.BrokerAddrTable[n].BrokerAddrs {
					if d.cfg.Scope == "" || addr == d.cfg.Scope {
						out = append(out, target{cluster, n, addr, id})
					}
				}
			}
		}
	}
	if d.cfg.Scope != "" && len(out) == 0 {
		out = append(out, target{"?", "?", d.cfg.Scope, -1}) // the name servers do not list this broker (yet)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.cluster != b.cluster {
			return a.cluster < b.cluster
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.id < b.id
	})
	return out
}

// sampleOnce reads the cluster info and every broker's runtime info, then records the readings.
func (s *sampler) sampleOnce() {
	s.run.Lock()
	defer s.run.Unlock()
	s.sampleRunLocked()
}

// sampleRunLocked takes one sample; s.run must be held.
func (s *sampler) sampleRunLocked() {
	d := s.d
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.Timeout)
	defer cancel()
	info, err := d.cfg.Source.ClusterInfo(ctx)
	infoErr := ""
	if err != nil {
		infoErr = err.Error()
		info = nil
	}
	ts := d.targets(info)
	type result struct {
		rt  map[string]string
		err error
	}
	res := make([]result, len(ts))
	parallel(len(ts), func(i int) {
		res[i].rt, res[i].err = d.cfg.Source.BrokerRuntimeInfo(ctx, ts[i].addr)
	})
	now := d.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at, s.info, s.infoErr = now, info, infoErr
	seen := map[string]bool{}
	for i, t := range ts {
		seen[t.addr] = true
		st := s.brokers[t.addr]
		if st == nil {
			st = &brokerState{Addr: t.addr}
			s.brokers[t.addr] = st
		}
		st.Cluster, st.Name, st.ID, st.At = t.cluster, t.name, t.id, now
		if res[i].err != nil {
			st.Err, st.Runtime = res[i].err.Error(), nil
			continue
		}
		st.Err, st.Runtime = "", res[i].rt
		in, out := parseTPS(res[i].rt["putTps"]), parseTPS(res[i].rt["getTransferedTps"])
		lag, known, _ := replicationLag(res[i].rt)
		st.Series = append(st.Series, sample{At: now, InTPS: in, OutTPS: out, LagBytes: lag, LagKnown: known})
	}
	cut := now.Add(-d.cfg.History)
	for addr, st := range s.brokers {
		i := 0
		for i < len(st.Series) && st.Series[i].At.Before(cut) {
			i++
		}
		st.Series = st.Series[i:]
		if !seen[addr] && (len(st.Series) == 0 || st.At.Before(cut)) {
			delete(s.brokers, addr)
		}
	}
}

// snapshot returns a copy of the state. Before the first sample it waits for one; later, when no
// sample is younger than twice the interval (the loop is not running), it takes one unless a
// sample is already under way: a page never queues behind a slow broker.
func (s *sampler) snapshot() snapshot {
	s.mu.Lock()
	none := s.at.IsZero()
	stale := none || s.d.cfg.Now().Sub(s.at) > 2*s.d.cfg.SampleInterval
	s.mu.Unlock()
	switch {
	case none:
		s.sampleOnce()
	case stale && s.run.TryLock():
		s.sampleRunLocked()
		s.run.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := snapshot{At: s.at, Info: s.info, InfoErr: s.infoErr}
	for _, st := range s.brokers {
		c := *st
		c.Series = append([]sample(nil), st.Series...)
		snap.Brokers = append(snap.Brokers, &c)
	}
	sort.Slice(snap.Brokers, func(i, j int) bool {
		a, b := snap.Brokers[i], snap.Brokers[j]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	return snap
}

// parseTPS reads the first figure of RocketMQ's "a b c" TPS strings.
func parseTPS(s string) float64 {
	f, _ := strconv.ParseFloat(strings.Fields(s + " 0")[0], 64)
	return f
}

// replicationLag is the lag in bytes behind (slave) or of the furthest slave (master), whether it
// is known, and why not when it is not.
func replicationLag(rt map[string]string) (int64, bool, string) {
	if v, ok := rt["haReplicationLagBytes"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false, "the broker reported " + strconv.Quote(v)
		}
		if rt["haConnected"] == "false" {
			return n, true, "not connected to its master"
		}
		return n, true, ""
	}
	slaves, ok := rt["haSlaves"]
	if !ok {
		if rt["brokerRole"] == "SLAVE" {
			return 0, false, "the slave has not reported its master's offset yet"
		}
		return 0, false, "the broker reports no replication"
	}
	if strings.TrimSpace(slaves) == "" {
		return 0, false, "no slave connected"
	}
	maxOff, err := strconv.ParseInt(rt["commitLogMaxOffset"], 10, 64)
	if err != nil {
		return 0, false, "the broker reported no commit-log offset"
	}
	worst := int64(-1)
	for _, sl := range strings.Split(slaves, ";") {
		i := strings.LastIndexByte(sl, ':')
		if i < 0 {
			continue
		}
		ack, err := strconv.ParseInt(sl[i+1:], 10, 64)
		if err != nil {
			continue
		}
		if ack < 0 {
			return 0, false, "a slave has not acknowledged anything yet"
		}
		worst = max(worst, maxOff-ack)
	}
	if worst < 0 {
		return 0, false, "no slave acknowledged an offset"
	}
	return max(worst, 0), true, ""
}

// parallel runs f(0..n-1) with at most 8 at a time and waits for all.
func parallel(n int, f func(i int)) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}
