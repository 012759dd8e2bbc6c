// Package metrics is the broker's and name server's metric set, kept with
// github.com/VictoriaMetrics/metrics (no hand-written exposition). No other Skiff package imports
// the metrics library: components record through this package and supply snapshot callbacks
// that are read at scrape time.
package metrics

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// Set is one process's metrics.
type Set struct {
	set     *vm.Set
	dynamic []func(w io.Writer) // written after the set at scrape time
}

// New returns an empty set.
func New() *Set { return &Set{set: vm.NewSet()} }

func label(name string, kv ...string) string {
	if len(kv) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString("=")
		b.WriteString(strconv.Quote(kv[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

// Counter is one labelled counter, looked up once (Set.Counter) and then added to without
// building its name again: the hot paths keep them.
type Counter struct{ c *vm.Counter }

// Add adds n.
func (c Counter) Add(n int) { c.c.Add(n) }

// Counter returns the counter name{kv...}, creating it on first use.
func (s *Set) Counter(name string, kv ...string) Counter {
	return Counter{s.set.GetOrCreateCounter(label(name, kv...))}
}

// Histogram is one labelled histogram of durations, looked up once (Set.Histogram).
type Histogram struct{ h *vm.Histogram }

// Observe records d in seconds.
func (h Histogram) Observe(d time.Duration) { h.h.Update(d.Seconds()) }

// Histogram returns the histogram name{kv...}, creating it on first use.
func (s *Set) Histogram(name string, kv ...string) Histogram {
	return Histogram{s.set.GetOrCreateHistogram(label(name, kv...))}
}

// Add increments a counter (created on first use) with labels given as key, value pairs.
func (s *Set) Add(name string, n int, kv ...string) {
	s.set.GetOrCreateCounter(label(name, kv...)).Add(n)
}

// Observe records a duration in seconds in a histogram.
func (s *Set) Observe(name string, d time.Duration, kv ...string) {
	s.set.GetOrCreateHistogram(label(name, kv...)).Update(d.Seconds())
}

// Gauge registers a gauge read from f at scrape time.
func (s *Set) Gauge(name string, f func() float64, kv ...string) {
	s.set.GetOrCreateGauge(label(name, kv...), f)
}

// Sample is one labelled value of a dynamic gauge family.
type Sample struct {
	Labels []string // key, value pairs
	Value  float64
}

// GaugeFamily registers a gauge whose label sets are only known at scrape time (per slave, per
// consumer group and queue): f returns the current samples.
func (s *Set) GaugeFamily(name string, f func() []Sample) {
	s.dynamic = append(s.dynamic, func(w io.Writer) {
		for _, smp := range f() {
			vm.WriteGaugeFloat64(w, label(name, smp.Labels...), smp.Value)
		}
	})
}

// WritePrometheus writes every metric in the Prometheus text format, plus Go runtime and process
// metrics (goroutines, memory, file descriptors).
func (s *Set) WritePrometheus(w io.Writer) {
	s.set.WritePrometheus(w)
	for _, f := range s.dynamic {
		f(w)
	}
	vm.WriteProcessMetrics(w)
}

// String is a debugging aid.
func (s *Set) String() string { return fmt.Sprintf("metrics.Set(%d dynamic)", len(s.dynamic)) }
