package broker

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/security"
)

// aclBenchMode is one side of BenchmarkBrokerACLAsyncPublish.
type aclBenchMode struct {
	name    string
	broker  *testBroker
	clients []*rpc.Client
	elapsed time.Duration
	lat     []time.Duration
}

// BenchmarkBrokerACLAsyncPublish measures asynchronous publishing (1 KiB bodies, 4 connections
// with up to 16 sends in flight each) to two in-process brokers, one with aclEnable off and one
// with it on, in the same run: rounds of 1,000 messages alternate between them (the order flips
// every round), so drift in the shared machine's load hits both alike. With ACL on, every request
// carries RocketMQ's signature (HMAC-SHA1 over the fields and the body, computed by the sender in
// this same process) and the broker verifies it and checks the topic's PUB permission. It reports
// msgs/s and p50/p99 latency (send to answer) of each, and on/off, the throughput ratio.
//
//	go test -run '^$' -bench BrokerACLAsyncPublish -benchtime 40000x ./broker/
func BenchmarkBrokerACLAsyncPublish(b *testing.B) {
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
		var sign func(*remoting.Command)
		if on {
			sign = (&security.Signer{AccessKey: "benchKey", SecretKey: "benchSecret"}).Sign
		}
		for range conns {
			cli := rpc.New(rpc.Config{Sign: sign})
			b.Cleanup(func() { cli.Close() })
			m.clients = append(m.clients, cli)
		}
	}
	body := make([]byte, 1024)
	props := message.FormatProperties(map[string]string{message.PropertyTags: "T"})
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
				for next.Add(1) <= int64(n) {
					sem <- struct{}{}
					ext := map[string]string{"producerGroup": "bench", "topic": "Bench", "defaultTopic": "TBW102",
						"defaultTopicQueueNums": "8", "queueId": strconv.Itoa(p % 8), "sysFlag": "0",
						"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0", "properties": props}
					t0 := time.Now()
					inflight.Add(1)
					err := cli.InvokeAsync(context.Background(), m.broker.addr, remoting.NewRequest(remoting.SendMessage, ext, body),
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
		m.elapsed += time.Since(start)
	}
	publish(modes[0], round) // warm both up (connections, topic creation, first segment)
	publish(modes[1], round)
	for _, m := range modes {
		m.elapsed, m.lat = 0, m.lat[:0]
	}
	b.SetBytes(2 * 1024)
	b.ResetTimer()
	for i, done := 0, 0; done < b.N; i++ {
		n := min(round, b.N-done)
		first, second := modes[i%2], modes[1-i%2]
		publish(first, n)
		publish(second, n)
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
		if len(m.lat) > 0 {
			b.ReportMetric(float64(m.lat[len(m.lat)/2].Microseconds()), "p50-µs-acl-"+m.name)
			b.ReportMetric(float64(m.lat[len(m.lat)*99/100].Microseconds()), "p99-µs-acl-"+m.name)
		}
	}
	b.ReportMetric(rate["on"]/rate["off"], "on/off")
}
