package dashboard

import (
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"time"
)

var funcs = template.FuncMap{
	// ms formats milliseconds since the epoch in UTC with the zone ("—" for 0).
	"ms": formatMillis,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return formatTime(t)
	},
	"timeHint": func() string { return TimeInputHint },
	"pct":      func(r float64) string { return fmt.Sprintf("%.1f%%", r*100) },
	"tps":      func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"bytes":    humanBytes,
	"join":     strings.Join,
	"split":    strings.Fields,
	"kindLabel": func(k string) string {
		return map[string]string{"normal": "", "retry": "retry", "dlq": "DLQ", "system": "system"}[k]
	},
	"isRole": func(role, want string) bool { return role == want },
}

func humanBytes(n int64) string {
	const u = 1024
	if n < u {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(u), 0
	for m := n / u; m >= u; m /= u {
		div *= u
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// parseTemplates builds one template set per page: the layout plus the page's file.
func parseTemplates() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: layout template: %w", err)
	}
	files, err := fs.Glob(webFS, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "web/templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(webFS, f)
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}
