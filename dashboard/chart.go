package dashboard

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// chartSeries is one line of a chart.
type chartSeries struct {
	Class  string // CSS class of the line
	Values []float64
	Times  []time.Time
}

// sparkline draws series over the window [end-span, end] as an inline SVG; the window starts at
// the first point when that is later (a young process fills its chart from the left). Only
// numbers and escaped labels reach the markup.
func sparkline(label string, end time.Time, span time.Duration, unit string, series ...chartSeries) template.HTML {
	start := end.Add(-span)
	first := end
	for _, s := range series {
		if len(s.Times) > 0 && s.Times[0].Before(first) {
			first = s.Times[0]
		}
	}
	if first.After(start) {
		start = first
	}
	if end.Sub(start) < 15*time.Second {
		start = end.Add(-15 * time.Second)
	}
	span = end.Sub(start)
	const w, h, pad = 300.0, 60.0, 2.0
	hi := 0.0
	last := []string{}
	for _, s := range series {
		for _, v := range s.Values {
			hi = max(hi, v)
		}
		if n := len(s.Values); n > 0 {
			last = append(last, fmt.Sprintf("%.1f", s.Values[n-1]))
		}
	}
	if hi <= 0 {
		hi = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" preserveAspectRatio="none" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<title>%s since %s UTC; latest %s %s; max %.1f</title>`, template.HTMLEscapeString(label), start.UTC().Format("15:04"), strings.Join(last, " / "), template.HTMLEscapeString(unit), hi)
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%.1f" x2="%.0f" y2="%.1f"/>`, h-pad, w, h-pad)
	for _, s := range series {
		if len(s.Values) == 0 {
			continue
		}
		fmt.Fprintf(&b, `<polyline class="%s" points="`, s.Class)
		for i, v := range s.Values {
			x := w * float64(s.Times[i].Sub(start)) / float64(span)
			x = min(max(x, 0), w)
			y := h - pad - (h-2*pad)*v/hi
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", x, y)
		}
		b.WriteString(`"/>`)
	}
	fmt.Fprintf(&b, `<text x="4" y="12">%s max</text>`, template.HTMLEscapeString(humanFloat(hi)))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func humanFloat(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.1fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}
