package namesrv

import (
	"reflect"
	"testing"
)

func TestNamesrvPropertiesParse(t *testing.T) {
	got, err := parseProperties("# comment\n! other\n\norderMessageEnable = true\r\nkey:value\n  spaced=  v w  \n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"orderMessageEnable": "true", "key": "value", "spaced": "v w"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	if _, err := parseProperties("novalue\n"); err == nil {
		t.Fatal("line without separator accepted")
	}
	if _, err := parseProperties("=x\n"); err == nil {
		t.Fatal("empty key accepted")
	}
	if s := formatProperties(want); s != "key=value\norderMessageEnable=true\nspaced=v w\n" {
		t.Fatalf("format %q", s)
	}
}

func FuzzNamesrvProperties(f *testing.F) {
	f.Add("a=b\nc:d\n#x\n")
	f.Add("=\n:")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseProperties(s)
		if err != nil {
			return
		}
		back, err := parseProperties(formatProperties(m))
		if err != nil {
			t.Fatalf("formatted properties do not parse: %v", err)
		}
		for k, v := range m {
			if back[k] != v && !containsSep(k) {
				t.Fatalf("key %q: %q -> %q", k, v, back[k])
			}
		}
	})
}

func containsSep(k string) bool {
	for _, c := range k {
		if c == '=' || c == ':' {
			return true
		}
	}
	return false
}
