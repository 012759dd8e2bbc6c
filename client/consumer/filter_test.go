package consumer

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/message"
)

func TestParseFilter(t *testing.T) {
	cases := []struct {
		expr string
		all  bool
		tags []string
		want string // f.expr
	}{
		{"*", true, nil, "*"},
		{"", true, nil, "*"},
		{"   ", true, nil, "*"},
		{" * ", true, nil, "*"},
		{"TagA", false, []string{"TagA"}, "TagA"},
		{"A || B", false, []string{"A", "B"}, "A || B"},
		{" A||B ", false, []string{"A", "B"}, "A||B"},
		{"A||B||C", false, []string{"A", "B", "C"}, "A||B||C"},
		{"A || *", true, nil, "*"},
		{"Tag With Space", false, []string{"Tag With Space"}, "Tag With Space"},
	}
	for _, c := range cases {
		f, err := parseFilter(c.expr)
		if err != nil {
			t.Errorf("parseFilter(%q): %v", c.expr, err)
			continue
		}
		if f.all != c.all || !slices.Equal(f.tags, c.tags) || f.expr != c.want {
			t.Errorf("parseFilter(%q) = %+v, want all=%v tags=%q expr=%q", c.expr, f, c.all, c.tags, c.want)
		}
	}
	for _, bad := range []string{"A || || B", "||", "A ||", "|| A", "A||  ||B"} {
		_, err := parseFilter(bad)
		if !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), "empty tag") {
			t.Errorf("parseFilter(%q) = %v, want ErrInvalidArgument for an empty tag", bad, err)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	all, _ := parseFilter("*")
	for _, tag := range []string{"", "A", "anything"} {
		if !all.match(tag) {
			t.Errorf("* does not match %q", tag)
		}
	}
	ab, _ := parseFilter(" A || B ")
	for tag, want := range map[string]bool{"A": true, "B": true, "": false, "C": false, "a": false, "A ": false, "A || B": false, "AB": false} {
		if got := ab.match(tag); got != want {
			t.Errorf("%q.match(%q) = %v, want %v", ab.expr, tag, got, want)
		}
	}
}

func TestSubscriptionData(t *testing.T) {
	f, _ := parseFilter("A || B")
	sd := f.subscriptionData("T", 42)
	if sd.Topic != "T" || sd.SubString != "A || B" || sd.SubVersion != 42 || sd.ExpressionType != "TAG" ||
		!slices.Equal(sd.TagsSet, []string{"A", "B"}) || !slices.Equal(sd.CodeSet, []int64{message.TagsCode("A"), message.TagsCode("B")}) {
		t.Fatalf("subscriptionData = %+v", sd)
	}
	all, _ := parseFilter("")
	sd = all.subscriptionData("T", 1)
	if sd.SubString != "*" || sd.TagsSet == nil || sd.CodeSet == nil || len(sd.TagsSet) != 0 {
		t.Fatalf("subscriptionData(*) = %+v (sets must be empty, not null)", sd)
	}
}
