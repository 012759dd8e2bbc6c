package commitlog

import (
	"strings"
	"testing"
)

// FuzzIndexKeyHash: the index hashes a record's keys without building topic+"#"+key or splitting
// KEYS into strings, and must give exactly the slots the string forms give (lookups hash the
// string form).
func FuzzIndexKeyHash(f *testing.F) {
	f.Add("TopicTest", []byte("order-1 order-2"))
	f.Add("T", []byte("  \u00a0k\u2003\xff x "))
	f.Add("", []byte(""))
	f.Fuzz(func(t *testing.T, topic string, keys []byte) {
		var buf [2][]byte
		got := appendFields(buf[:0], keys)
		want := strings.Fields(string(keys))
		if len(got) != len(want) {
			t.Fatalf("appendFields(%q) = %q, strings.Fields = %q", keys, got, want)
		}
		for i := range got {
			if string(got[i]) != want[i] {
				t.Fatalf("appendFields(%q) = %q, strings.Fields = %q", keys, got, want)
			}
			if h, w := keyHashOf(topic, got[i]), keyHash(topic+"#"+want[i]); h != w {
				t.Fatalf("keyHashOf(%q, %q) = %d, keyHash = %d", topic, got[i], h, w)
			}
		}
		if h, w := keyHashOf(topic, keys), keyHash(topic+"#"+string(keys)); h != w {
			t.Fatalf("keyHashOf(%q, %q) = %d, keyHash = %d", topic, keys, h, w)
		}
	})
}
