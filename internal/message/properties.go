package message

import (
	"iter"
	"sort"
	"strings"
)

const (
	nameValueSeparator = '\x01'
	propertySeparator  = '\x02'
)

// ParseProperties parses "k\x01v\x02k\x01v[\x02]". It accepts a trailing separator or none,
// skips empty segments and pairs with an empty key or value, and splits each pair at its first
// \x01 (as Java does).
func ParseProperties(s string) map[string]string {
	m := map[string]string{}
	for k, v := range PropertyPairs(s) {
		m[k] = v
	}
	return m
}

// PropertyPairs yields the pairs of encoded properties in order, exactly those ParseProperties
// keeps (a repeated key is yielded each time; the map keeps the last), as substrings of s: a
// reader of a few properties needs no map.
func PropertyPairs(s string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for len(s) > 0 {
			i := strings.IndexByte(s, propertySeparator)
			pair := s
			if i >= 0 {
				pair, s = s[:i], s[i+1:]
			} else {
				s = ""
			}
			j := strings.IndexByte(pair, nameValueSeparator)
			if j <= 0 || j == len(pair)-1 {
				continue
			}
			if !yield(pair[:j], pair[j+1:]) {
				return
			}
		}
	}
}

// FormatProperties encodes properties with sorted keys (deterministic), without a trailing
// separator. Pairs that cannot be represented (a key with a separator, a value with \x02) are
// dropped.
func FormatProperties(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if k == "" || v == "" || strings.ContainsAny(k, "\x01\x02") || strings.IndexByte(v, propertySeparator) >= 0 {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(propertySeparator)
		}
		b.WriteString(k)
		b.WriteByte(nameValueSeparator)
		b.WriteString(m[k])
	}
	return b.String()
}
