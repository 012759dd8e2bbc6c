package itest

import (
	"io"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDashboardScale times the dashboard's first pages on a cluster with 5,000 topics and
// 1,000 groups (real name server and broker processes), against the name server's plain topic
// list (/api/topics, one remoting call and its JSON) as the baseline measured in the same run:
//
//	go test -run '^$' -bench DashboardScale -benchtime 50x ./itest/
func BenchmarkDashboardScale(b *testing.B) {
	if bins == nil {
		b.Skip("starts real processes; skipped under -short")
	}
	_, port := bigCluster(b, 5000, 1000)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for _, c := range []struct{ name, path string }{
		{"baseline=api-topics", "/api/topics"},
		{"page=topics", "/dashboard/topics"},
		{"page=topics-json", "/api/dashboard/topics"},
		{"page=topics-search", "/dashboard/topics?q=ScaleTopic-04"},
		{"page=topics-last", "/dashboard/topics?page=100"},
		{"page=groups", "/dashboard/groups"},
	} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			bytes := 0
			for i := 0; i < b.N; i++ {
				start := time.Now()
				resp, err := http.Get(base + c.path)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", c.path, resp.StatusCode)
				}
				lat = append(lat, time.Since(start))
				bytes = int(n)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			q := func(p float64) float64 { return float64(lat[min(int(p*float64(len(lat))), len(lat)-1)]) / 1e6 }
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(float64(bytes), "bytes/page")
		})
	}
}
