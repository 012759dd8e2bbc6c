package broker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/skiffmq/skiff/broker/processor"
	"github.com/skiffmq/skiff/internal/httpapi"
	"github.com/skiffmq/skiff/internal/metrics"
)

// startHTTP starts /healthz, /readyz, /metrics and the read-only JSON API. It runs before the
// store opens, so /readyz answers 503 during recovery and until the first registration.
func (b *Broker) startHTTP() error {
	if b.conf().HTTPPort < 0 {
		return nil
	}
	b.metrics = metrics.New()
	b.registerGauges()
	srv, err := httpapi.Start(httpapi.Config{
		Addr:        net.JoinHostPort(b.conf().HTTPBindAddress, strconv.Itoa(b.conf().HTTPPort)),
		Ready:       b.Ready,
		Reason:      b.NotReadyReason,
		Metrics:     b.metrics.WritePrometheus,
		Logger:      b.log,
		Mounts:      b.conf().HTTPMounts,
		PprofRemote: b.conf().DebugPprofRemote,
		API: map[string]func(map[string]string) (any, error){
			"runtime": func(map[string]string) (any, error) { return b.runtimeTable(), nil },
			"topics":  func(map[string]string) (any, error) { return b.topics.Snapshot(), nil },
			"consumerProgress": func(a map[string]string) (any, error) {
				if a["group"] == "" {
					return nil, fmt.Errorf("query parameter group is required")
				}
				return b.consumerProgress(a["group"]), nil
			},
		},
	})
	if err != nil {
		return fmt.Errorf("broker: httpPort %d: %w", b.conf().HTTPPort, err)
	}
	b.http = srv
	return nil
}

// HTTPAddr is the address of the HTTP surface ("" when it is off).
func (b *Broker) HTTPAddr() string {
	if b.http == nil {
		return ""
	}
	return b.http.Addr()
}

func (b *Broker) storeOpen() bool { return b.storeReady.Load() }

func (b *Broker) registerGauges() {
	m := b.metrics
	st := func(f func() float64) func() float64 {
		return func() float64 {
			if !b.storeOpen() {
				return 0
			}
			return f()
		}
	}
	m.Gauge("skiff_commitlog_max_offset_bytes", st(func() float64 { return float64(b.store.MaxPhyOffset()) }))
	m.Gauge("skiff_commitlog_min_offset_bytes", st(func() float64 { return float64(b.store.MinPhyOffset()) }))
	m.Gauge("skiff_commitlog_size_bytes", st(func() float64 { return float64(b.store.MaxPhyOffset() - b.store.MinPhyOffset()) }))
	m.Gauge("skiff_commitlog_dirty_bytes", st(func() float64 { return float64(b.store.Stats().DirtyBytes) }))
	m.Gauge("skiff_commitlog_dispatch_behind_bytes", st(func() float64 { return float64(b.store.Stats().DispatchBehindBytes) }))
	m.Gauge("skiff_commitlog_last_flush_seconds", st(func() float64 { return b.store.Stats().LastFlushDuration.Seconds() }))
	m.Gauge("skiff_store_disk_used_ratio", st(func() float64 { return b.store.Stats().DiskRatio }))
	m.Gauge("skiff_store_writeable", st(func() float64 {
		if b.store.Writeable() {
			return 1
		}
		return 0
	}))
	// Pre-faulting fresh page-cache pages ahead of the writer (warmMapedFileEnable): bytes and the
	// kernel CPU it took, part of the process's CPU (docs/performance.md).
	m.Gauge("skiff_store_prefault_bytes_total", st(func() float64 { n, _ := b.store.PrefaultStats(); return float64(n) }))
	m.Gauge("skiff_store_prefault_cpu_seconds_total", st(func() float64 { _, d := b.store.PrefaultStats(); return d.Seconds() }))
	m.Gauge("skiff_store_flush_errors", st(func() float64 { return float64(b.store.Stats().FlushErrors) }))
	// What the last start's recovery did (constant after start).
	m.Gauge("skiff_store_recovery_seconds", st(func() float64 { return b.store.Stats().Recovery.Took.Seconds() }))
	m.Gauge("skiff_store_recovery_verified_bytes", st(func() float64 { return float64(b.store.Stats().Recovery.VerifiedBytes) }))
	m.Gauge("skiff_store_recovery_redispatched_bytes", st(func() float64 { return float64(b.store.Stats().Recovery.RedispatchedBytes) }))
	m.Gauge("skiff_store_flush_failed", st(func() float64 {
		if b.store.FlushError() != nil {
			return 1
		}
		return 0
	}))
	m.Gauge("skiff_broker_ready", func() float64 {
		if b.Ready() {
			return 1
		}
		return 0
	})
	m.Gauge("skiff_remoting_connections", func() float64 {
		if b.srv == nil || !b.started.Load() {
			return 0
		}
		return float64(len(b.srv.Conns()))
	})
	m.GaugeFamily("skiff_replication_lag_bytes", func() []metrics.Sample {
		var out []metrics.Sample
		if !b.storeOpen() {
			return nil
		}
		if b.haMaster != nil {
			end := b.store.MaxPhyOffset()
			for _, s := range b.haMaster.Slaves() {
				if s.AckOffset >= 0 {
					out = append(out, metrics.Sample{Labels: []string{"slave", s.Addr}, Value: float64(end - s.AckOffset)})
				}
			}
		}
		if b.haSlave != nil && b.haSlave.MasterAddr() != "" {
			lag := max(b.haSlave.MasterMaxOffset()-b.store.MaxPhyOffset(), 0)
			out = append(out, metrics.Sample{Labels: []string{"master", b.haSlave.MasterAddr()}, Value: float64(lag)})
		}
		return out
	})
	m.GaugeFamily("skiff_consumer_lag_messages", func() []metrics.Sample {
		if !b.storeOpen() {
			return nil
		}
		var out []metrics.Sample
		for key, queues := range b.offsets.Snapshot().OffsetTable {
			i := strings.LastIndexByte(key, '@')
			if i < 0 {
				continue
			}
			topic, group := key[:i], key[i+1:]
			for q, off := range queues {
				lag := max(b.store.MaxOffsetInQueue(topic, q)-off, 0)
				out = append(out, metrics.Sample{Labels: []string{"group", group, "topic", topic, "queue", strconv.Itoa(int(q))}, Value: float64(lag)})
			}
		}
		return out
	})
}

// recordPull counts messages handed to a consumer.
func (b *Broker) recordPull(topic string, msgs, bytes int, start time.Time) {
	if b.metrics == nil {
		return
	}
	if msgs > 0 {
		tm := b.topicMetricsOf(topic)
		tm.msgsOut.Add(msgs)
		tm.bytesOut.Add(bytes)
	}
	b.pullLatency().Observe(time.Since(start))
}

// sendMeter is the send processor's meter of topic (processor.Send.Meter; it keeps it per
// connection and topic, so a send records itself without the topicMetrics lookup).
func (b *Broker) sendMeter(topic string) processor.SendMeter {
	if b.metrics == nil {
		return noSendMeter{}
	}
	return b.topicMetricsOf(topic)
}

type noSendMeter struct{}

func (noSendMeter) RecordSend(int, int, time.Time) {}

// RecordSend counts an accepted send of n messages and bytes body bytes, and its latency.
func (tm *topicMetrics) RecordSend(n, bytes int, start time.Time) {
	tm.msgsIn.Add(n)
	tm.bytesIn.Add(bytes)
	tm.sendHist.Observe(time.Since(start))
}

// topicMetrics are one topic's counters, looked up once per topic (building a labelled metric
// name per message cost the send path a string and a map lookup each), and the broker's send
// latency histogram.
type topicMetrics struct {
	msgsIn, bytesIn, msgsOut, bytesOut metrics.Counter
	sendHist                           metrics.Histogram
}

func (b *Broker) topicMetricsOf(topic string) *topicMetrics {
	if v, ok := b.topicMetrics.Load(topic); ok {
		return v.(*topicMetrics)
	}
	topic = strings.Clone(topic) // may alias a request frame
	tm := &topicMetrics{
		msgsIn: b.metrics.Counter("skiff_messages_in_total", "topic", topic), bytesIn: b.metrics.Counter("skiff_bytes_in_total", "topic", topic),
		msgsOut: b.metrics.Counter("skiff_messages_out_total", "topic", topic), bytesOut: b.metrics.Counter("skiff_bytes_out_total", "topic", topic),
		sendHist: b.sendLatency(),
	}
	v, _ := b.topicMetrics.LoadOrStore(topic, tm)
	return v.(*topicMetrics)
}

func (b *Broker) sendLatency() metrics.Histogram {
	b.latencyOnce.Do(b.initLatency)
	return b.sendHist
}

func (b *Broker) pullLatency() metrics.Histogram {
	b.latencyOnce.Do(b.initLatency)
	return b.pullHist
}

func (b *Broker) initLatency() {
	b.sendHist = b.metrics.Histogram("skiff_send_latency_seconds")
	b.pullHist = b.metrics.Histogram("skiff_pull_latency_seconds")
}

// consumerProgress is broker offset, consumer offset and lag per queue of a group.
func (b *Broker) consumerProgress(group string) []map[string]any {
	var out []map[string]any
	for _, topic := range b.offsets.TopicsOfGroup(group) {
		for q, off := range b.offsets.QueueOffsets(group, topic) {
			maxOff := b.store.MaxOffsetInQueue(topic, q)
			out = append(out, map[string]any{"topic": topic, "queueId": q, "brokerOffset": maxOff,
				"consumerOffset": off, "diff": max(maxOff-off, 0)})
		}
	}
	return out
}

func (b *Broker) stopHTTP(ctx context.Context) {
	if b.http != nil {
		if err := b.http.Shutdown(ctx); err != nil {
			b.log.Warn("HTTP server shutdown", "err", err)
		}
	}
}
