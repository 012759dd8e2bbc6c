package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestFieldsReader(t *testing.T) {
	ext := []ExtField{{"topic", "T"}, {"queueId", "3"}, {"offset", "-9"}, {"queueId", "4"}, {"flag", "True"}, {"empty", ""}}
	f := ReadFields(ext)
	if f.Str("topic", true) != "T" || f.I32("queueId", true) != 4 || f.I64("offset", true) != -9 || !f.Bool("flag") {
		t.Fatalf("values: err %v", f.Err())
	}
	if f.I64("absent", false) != 0 || f.I32("empty", false) != 0 || f.Bool("absent") || f.Has("absent") || !f.Has("empty") {
		t.Fatal("optional fields")
	}
	if f.Err() != nil {
		t.Fatal(f.Err())
	}
	for _, c := range []struct {
		read func(*Fields)
		want string
	}{
		{func(f *Fields) { f.Str("group", true) }, "the request header field group is missing"},
		{func(f *Fields) { f.I32("empty", true) }, `the request header field empty = "" is not an integer`},
		{func(f *Fields) { f.I32("offset", true); f.I32("big", true) }, ""},
		{func(f *Fields) { f.I32("big", true) }, `big = "4294967296" is not a 32-bit integer`},
		{func(f *Fields) { f.I64("topic", true) }, `topic = "T" is not a 64-bit integer`},
	} {
		f := ReadFields(append(ext, ExtField{"big", "4294967296"}))
		c.read(f)
		if c.want == "" {
			if f.Err() == nil || !strings.Contains(f.Err().Error(), "big") {
				t.Errorf("first error kept: %v", f.Err())
			}
			continue
		}
		if err := f.Err(); err == nil || !errors.Is(err, ErrHeaderField) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}
