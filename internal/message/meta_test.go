package message

import (
	"testing"
)

// FuzzMessageDecodeMeta checks DecodeMeta against Decode on arbitrary bytes (Decode builds on
// it): they agree on every field Meta has, and Property and DispatchProperties return what the
// parsed map holds.
func FuzzMessageDecodeMeta(f *testing.F) {
	s := sample()
	s.Properties["TAGS"] = "TagA"
	s.Properties["KEYS"] = "k1 k2"
	b, _ := Encode(nil, s)
	f.Add(b, "TAGS")
	f.Add(b[:60], "KEYS")
	f.Add([]byte{0, 0, 0, 100, 0xCB, 0xD4, 0x31, 0x94}, "")
	f.Add(make([]byte, 120), "x")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		meta, err := DecodeMeta(data)
		m, err2 := Decode(data, false)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("DecodeMeta error %v, Decode error %v", err, err2)
		}
		if err != nil {
			return
		}
		if meta.StoreSize != m.StoreSize || meta.QueueID != m.QueueID || meta.QueueOffset != m.QueueOffset ||
			meta.CommitLogOffset != m.CommitLogOffset || meta.SysFlag != m.SysFlag || meta.StoreTimestamp != m.StoreTimestamp ||
			string(meta.Topic) != m.Topic {
			t.Fatalf("meta %+v differs from %+v", meta, m)
		}
		keys := []string{key, PropertyTags, PropertyKeys, PropertyUniqKey}
		for k := range m.Properties {
			keys = append(keys, k)
		}
		for _, k := range keys {
			v, ok := meta.Property(k)
			want, wantOK := m.Properties[k]
			if ok != wantOK || string(v) != want {
				t.Fatalf("Property(%q) = %q %v, map has %q %v", k, v, ok, want, wantOK)
			}
		}
		tags, kv, uniq := meta.DispatchProperties()
		if string(tags) != m.Properties[PropertyTags] || string(kv) != m.Properties[PropertyKeys] || string(uniq) != m.Properties[PropertyUniqKey] {
			t.Fatalf("DispatchProperties = %q %q %q, map has %v", tags, kv, uniq, m.Properties)
		}
		if TagsCodeBytes(tags) != TagsCode(m.Properties[PropertyTags]) {
			t.Fatalf("TagsCodeBytes(%q) differs from TagsCode", tags)
		}
	})
}

// FuzzMessageTagsCodeBytes: the byte form hashes exactly like the string form (Java's
// String.hashCode over UTF-16 units, invalid UTF-8 as U+FFFD), for any bytes.
func FuzzMessageTagsCodeBytes(f *testing.F) {
	f.Add([]byte("TagA"))
	f.Add([]byte("\xf0\x9f\x98\x80 emoji"))
	f.Add([]byte("\xff\xfe bad"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := TagsCodeBytes(b), TagsCode(string(b)); got != want {
			t.Fatalf("TagsCodeBytes(%q) = %d, TagsCode = %d", b, got, want)
		}
	})
}

func BenchmarkMessageDispatchDecode(b *testing.B) {
	s := sample()
	s.Properties = map[string]string{"TAGS": "TagA", "KEYS": "order-1", "UNIQ_KEY": "7F0000010B0A18B4AAC27A1B2C3D0000", "WAIT": "true", "CLUSTER": "DefaultCluster"}
	s.Body = make([]byte, 1024)
	rec, _ := Encode(nil, s)
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, _ := Decode(rec, false)
			_ = TagsCode(m.Properties[PropertyTags])
			_ = m.Keys()
			_ = m.UniqKey()
		}
	})
	b.Run("DecodeMeta", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, _ := DecodeMeta(rec)
			t, _, _ := m.DispatchProperties()
			_ = TagsCodeBytes(t)
		}
	})
}
