package broker

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/security"
)

// aclBenchMode is one side of BenchmarkBrokerACLAsyncPublish.
type aclBenchMode struct {
	name    string
	broker  *testBroker
	clients []*rpc.Client
	elapsed time.Duration   // wall time of the timed rounds
	cpu     time.Duration   // process CPU time (user+system) during them
	rounds  []time.Duration // wall time of each timed round
	cpus    []time.Duration // process CPU time of each timed round
	lat     []time.Duration
	sign    func(*remoting.Command) // ACL on: the sender's signature
	ready   []*remoting.Command     // signed=ahead: the round's requests, built before it
}

// processCPU is the CPU time (user + system) this process has used so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// median returns the median of xs (sorted in place); 0 when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// BenchmarkBrokerACLAsyncPublish measures asynchronous publishing (1 KiB bodies, 4 connections
// with up to 16 sends in flight each) to two in-process brokers, one with aclEnable off and one
// with it on, in the same run: rounds of 1,000 messages alternate between them (the order flips
// every round), so drift in the shared machine's load hits both alike. With ACL on, every request
// carries RocketMQ's signature (HMAC-SHA1 over the fields and the body), made by the signer the
// SDK's client.Credentials uses (auth.ACLKey.SignCommand), and the broker verifies it and checks
// the topic's PUB permission. Everything else is the same: same request, same body, same
// connections and window, same broker configuration.
//
// Requests are sent as Skiff's SDK sends them by default (SEND_MESSAGE_V2, a list header of short
// keys, RocketMQ's binary header); header=json/... sends them as the official Go client does
// (SEND_MESSAGE, a map header of full names, JSON), reported separately.
//
// signed=per-send builds and signs each request as it is sent, in this process (the whole cost of
// ACL, sender and broker, on the same two cores); signed=ahead builds (and, ACL on, signs) each
// round's requests before the round, outside its time and CPU, so the figures show what ACL costs
// the broker (verification, permission check, two more header fields) with a sender elsewhere, as
// in a deployment.
//
// It reports, per side, msgs/s, p50/p99 latency (send to answer) and the process's CPU time per
// message (getrusage around each round: sender and broker together, since both run here); and
// four ratios: on/off (throughput over all rounds), on/off-median (the median of the per-round
// ratios, which one disturbed round cannot move), cpu-off/on (CPU per message with ACL off ÷ on:
// the throughput ratio of a CPU-bound run) and cpu-off/on-median (its median over the rounds, the
// least noisy figure on a shared machine: a garbage collection or a neighbour's burst lands in
// one round).
//
//	go test -run '^$' -bench BrokerACLAsyncPublish -benchtime 100000x -count 5 ./broker/
func BenchmarkBrokerACLAsyncPublish(b *testing.B) {
	b.Run("signed=per-send", func(b *testing.B) { benchACLAsyncPublish(b, false, false) })
	b.Run("signed=ahead", func(b *testing.B) { benchACLAsyncPublish(b, true, false) })
	b.Run("header=json", func(b *testing.B) {
		b.Run("signed=per-send", func(b *testing.B) { benchACLAsyncPublish(b, false, true) })
	})
}

// benchACLAsyncPublish runs one sub-benchmark of BenchmarkBrokerACLAsyncPublish. jsonMap false
// sends as Skiff's SDK does by default: SEND_MESSAGE_V2 with the header as a list of short keys
// (protocol.SendMessageRequestHeader.AppendShort, room for the ACL fields), RocketMQ's binary
// header (serializeType 1). jsonMap true sends as the official Go client does: SEND_MESSAGE with
// a map header of full names, JSON (serializeType 0).
func benchACLAsyncPublish(b *testing.B, ahead, jsonMap bool) {
	aclPath := filepath.Join(b.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(aclPath, []byte("accounts:\n  - accessKey: benchKey\n    secretKey: benchSecret\n    defaultTopicPerm: DENY\n    topicPerms: [Bench=PUB]\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	const conns, window, round = 4, 16, 1000
	modes := []*aclBenchMode{{name: "off"}, {name: "on"}}
	for _, m := range modes {
		on := m.name == "on"
		m.broker = startBroker(b, func(c *Config) {
			c.MappedFileSizeCommitLog = 256 << 20
			c.AclEnable, c.AclFile = on, aclPath
		})
		if on {
			m.sign = (&security.Signer{AccessKey: "benchKey", SecretKey: "benchSecret"}).Sign
		}
		for range conns {
			cfg := rpc.Config{}
			if !jsonMap {
				cfg.Serialize = remoting.SerializeRocketMQ
			}
			if !ahead {
				cfg.Sign = m.sign
			}
			cli := rpc.New(cfg)
			b.Cleanup(func() { cli.Close() })
			m.clients = append(m.clients, cli)
		}
	}
	body := make([]byte, 1024)
	props := message.FormatProperties(map[string]string{message.PropertyTags: "T"})
	request := func(p int) *remoting.Command {
		if !jsonMap { // client/producer's Producer.request
			h := protocol.SendMessageRequestHeader{ProducerGroup: "bench", Topic: "Bench", DefaultTopic: "TBW102",
				DefaultTopicQueueNums: 8, QueueID: int32(p % 8), BornTimestamp: time.Now().UnixMilli(), Properties: props}
			return remoting.NewRequestList(remoting.SendMessageV2, body).SetRawExt(h.AppendShort(make([]protocol.ExtField, 0, 17)))
		}
		return remoting.NewRequest(remoting.SendMessage, map[string]string{"producerGroup": "bench", "topic": "Bench",
			"defaultTopic": "TBW102", "defaultTopicQueueNums": "8", "queueId": strconv.Itoa(p % 8), "sysFlag": "0",
			"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0", "properties": props}, body)
	}
	// prepare builds the round's requests of each connection ahead (signed=ahead only).
	prepare := func(m *aclBenchMode, n int) {
		if !ahead {
			return
		}
		m.ready = m.ready[:0]
		for i := range n {
			r := request(i % conns)
			if m.sign != nil {
				m.sign(r)
			}
			m.ready = append(m.ready, r)
		}
	}
	var failed atomic.Int64
	publish := func(m *aclBenchMode, n int) {
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for p, cli := range m.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem := make(chan struct{}, window)
				var inflight sync.WaitGroup
				for {
					i := next.Add(1)
					if i > int64(n) {
						break
					}
					sem <- struct{}{}
					var req *remoting.Command
					if ahead {
						req = m.ready[i-1]
					} else {
						req = request(p)
					}
					t0 := time.Now()
					inflight.Add(1)
					err := cli.InvokeAsync(context.Background(), m.broker.addr, req,
						func(resp *remoting.Command, err error) {
							defer inflight.Done()
							if err != nil || resp.Code != remoting.Success {
								failed.Add(1)
							} else {
								d := time.Since(t0)
								mu.Lock()
								m.lat = append(m.lat, d)
								mu.Unlock()
							}
							<-sem
						})
					if err != nil {
						inflight.Done()
						failed.Add(1)
						<-sem
					}
				}
				inflight.Wait()
			}()
		}
		wg.Wait()
		d := time.Since(start)
		m.elapsed += d
		m.rounds = append(m.rounds, d)
	}
	for _, m := range modes { // warm both up (connections, topic creation, first segment)
		prepare(m, round)
		publish(m, round)
	}
	for _, m := range modes {
		m.elapsed, m.lat, m.rounds, m.cpus = 0, m.lat[:0], m.rounds[:0], m.cpus[:0]
	}
	b.SetBytes(2 * 1024)
	b.ResetTimer()
	for i, done := 0, 0; done < b.N; i++ {
		n := min(round, b.N-done)
		for _, m := range []*aclBenchMode{modes[i%2], modes[1-i%2]} {
			if ahead {
				b.StopTimer()
				prepare(m, n)
				b.StartTimer()
			}
			c0 := processCPU(b)
			publish(m, n)
			c := processCPU(b) - c0
			m.cpu += c
			m.cpus = append(m.cpus, c)
		}
		done += n
	}
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d sends failed", f)
	}
	rate := map[string]float64{}
	for _, m := range modes {
		sort.Slice(m.lat, func(i, j int) bool { return m.lat[i] < m.lat[j] })
		rate[m.name] = float64(b.N) / m.elapsed.Seconds()
		b.ReportMetric(rate[m.name], "msgs/s-acl-"+m.name)
		b.ReportMetric(float64(m.cpu.Microseconds())/float64(b.N), "cpu-µs/msg-acl-"+m.name)
		if len(m.lat) > 0 {
			b.ReportMetric(float64(m.lat[len(m.lat)/2].Microseconds()), "p50-µs-acl-"+m.name)
			b.ReportMetric(float64(m.lat[len(m.lat)*99/100].Microseconds()), "p99-µs-acl-"+m.name)
		}
	}
	b.ReportMetric(rate["on"]/rate["off"], "on/off")
	ratios := make([]float64, len(modes[0].rounds))
	for i := range ratios {
		ratios[i] = modes[0].rounds[i].Seconds() / modes[1].rounds[i].Seconds()
	}
	b.ReportMetric(median(ratios), "on/off-median")
	b.ReportMetric(modes[0].cpu.Seconds()/modes[1].cpu.Seconds(), "cpu-off/on")
	for i := range ratios {
		ratios[i] = modes[0].cpus[i].Seconds() / modes[1].cpus[i].Seconds()
	}
	b.ReportMetric(median(ratios), "cpu-off/on-median")
}
