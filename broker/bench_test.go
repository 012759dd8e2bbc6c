package broker

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
)

// BenchmarkBrokerSendReplicated measures SEND_MESSAGE (1 KiB bodies, 32 concurrent producers on
// one connection each) to a master with one slave, for ASYNC_MASTER and SYNC_MASTER in the same
// run, with ASYNC_FLUSH on both. It reports msgs/s, p50/p99 send latency and the largest
// replication lag in bytes (master end − slave end) sampled during the run.
//
//	go test -run '^$' -bench BrokerSendReplicated -benchtime 20000x ./broker/
func BenchmarkBrokerSendReplicated(b *testing.B) {
	for _, role := range []string{RoleAsyncMaster, RoleSyncMaster} {
		b.Run("role="+role, func(b *testing.B) {
			master := startBroker(b, func(c *Config) { c.BrokerRole = role; c.MappedFileSizeCommitLog = 256 << 20 })
			slave := startBroker(b, func(c *Config) {
				c.BrokerRole, c.BrokerID = RoleSlave, 1
				c.MappedFileSizeCommitLog = 256 << 20
				c.HaMasterAddress = "127.0.0.1:" + strconv.Itoa(master.b.conf().HaListenPort)
			})
			deadline := time.Now().Add(10 * time.Second)
			for !master.b.haMaster.SlaveOK(master.b.store.MaxPhyOffset(), 1<<30) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			const producers = 32
			body := make([]byte, 1024)
			props := message.FormatProperties(map[string]string{message.PropertyTags: "T"})
			var next, failed atomic.Int64
			var maxLag atomic.Int64
			stop := make(chan struct{})
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
						if lag := master.b.store.MaxPhyOffset() - slave.b.store.MaxPhyOffset(); lag > maxLag.Load() {
							maxLag.Store(lag)
						}
					}
				}
			}()
			lat := make([][]time.Duration, producers)
			b.SetBytes(1024)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for p := 0; p < producers; p++ {
				wg.Add(1)
				go func(p int) {
					defer wg.Done()
					cli := rpc.New(rpc.Config{})
					defer cli.Close()
					for next.Add(1) <= int64(b.N) {
						ext := map[string]string{"producerGroup": "bench", "topic": "Bench", "defaultTopic": "TBW102",
							"defaultTopicQueueNums": "8", "queueId": strconv.Itoa(p % 8), "sysFlag": "0",
							"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0", "properties": props}
						t0 := time.Now()
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						resp, err := cli.Invoke(ctx, master.addr, remoting.NewRequest(remoting.SendMessage, ext, body))
						cancel()
						if err != nil || resp.Code != remoting.Success {
							failed.Add(1)
							continue
						}
						lat[p] = append(lat[p], time.Since(t0))
					}
				}(p)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(stop)
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
			b.ReportMetric(float64(maxLag.Load()), "max-lag-bytes")
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d sends failed", f)
			}
		})
	}
}
