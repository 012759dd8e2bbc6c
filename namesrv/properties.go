package namesrv

import (
	"fmt"
	"sort"
	"strings"
)

// parseProperties reads Java-properties text as sent in UPDATE_NAMESRV_CONFIG: one key=value (or
// key:value) per line, '#' and '!' comment lines, blank lines skipped, spaces around key and value
// trimmed. Escapes and continuation lines are not supported (no RocketMQ key needs them).
func parseProperties(text string) (map[string]string, error) {
	out := make(map[string]string)
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("namesrv: properties line %d: %q: want key=value", n+1, line)
		}
		key := strings.TrimSpace(line[:i])
		if key == "" {
			return nil, fmt.Errorf("namesrv: properties line %d: empty key", n+1)
		}
		out[key] = strings.TrimSpace(line[i+1:])
	}
	return out, nil
}

// formatProperties writes key=value lines sorted by key.
func formatProperties(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
		b.WriteByte('\n')
	}
	return b.String()
}
