package dashboard

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

var fuzzPages = []string{"", "overview", "topics", "topic", "groups", "group", "producers", "messages", "message", "dlq", "config", "namesrv"}

// FuzzDashboardQuery sends arbitrary query parameters to every page: no panic, no 5xx from bad
// input, HTML never echoes markup from the request unescaped, and the JSON stays JSON. Every value
// is wrapped in markers (<zq ... "zq>) that no template contains, so finding a marker in the page
// means a value reached it unescaped.
func FuzzDashboardQuery(f *testing.F) {
	for _, s := range [][3]string{
		{"topic-00001", "", ""}, {"<script>alert(1)</script>", "x", "y"}, {`"><img src=x onerror=alert(1)>`, "mode", "time"},
		{"%DLQ%g-00000", "page", "-5"}, {"0A00000100002A9F0000000000000000", "size", "99999999999999999999"},
		{"2030-01-01T00:00", "begin", "zz"}, {"\x00\xff", "kind", "all"}, {"g-00000", "view", "hex"}, {"1", "offset", "-1"},
		{"Big", "after", "1800000000003-1-4-broker-a"}, {"2026-12-03 09:15:04.123 UTC", "end", "2026-12-03T10:15:04+01:00"},
	} {
		for page := range fuzzPages {
			f.Add(uint8(2*page), s[0], s[1], s[2])
		}
	}
	fk := newFake(120, 30)
	fk.addMessages("Big", 150, 1_800_000_000_000)
	d, _, _ := newTest(f, fk, nil)
	f.Fuzz(func(t *testing.T, which uint8, value, key, extra string) {
		if which&1 == 0 { // half the runs wrap the values in markers
			value, extra = "<zq"+value+`"zq>`, "<zq"+extra+`"zq>`
		}
		for i, mode := range []string{value, "id", "key", "time"} {
			name := fuzzPages[(int(which)/2+i)%len(fuzzPages)]
			if name == "messages" || name == "message" {
				name = []string{"messages", "message"}[i%2]
			}
			// Names and searches always carry the value; the paging and format parameters carry
			// it on every other call, so pages that refuse a bad kind or time still render a list.
			q := url.Values{}
			for _, k := range []string{"q", "topic", "group", "id", "key", "broker"} {
				q.Set(k, value)
			}
			if i%2 == 0 {
				for _, k := range []string{"kind", "page", "size", "begin", "end", "offset", "view", "system", "after"} {
					q.Set(k, value)
				}
			}
			q.Add(key, extra)
			q.Set("mode", mode)
			r := call(d, "GET", PagePrefix+name+"?"+q.Encode(), nil, "", nil)
			if r.code >= 500 && r.code != 502 {
				t.Fatalf("%s?%s = %d\n%s", name, q.Encode(), r.code, r.body)
			}
			if strings.Contains(r.body, "<zq") || strings.Contains(r.body, `"zq>`) {
				t.Fatalf("%s?%s echoes a value unescaped:\n%s", name, q.Encode(), r.body)
			}
			api := name
			if api == "" {
				api = "overview"
			}
			j := call(d, "GET", APIPrefix+api+"?"+q.Encode(), nil, "", nil)
			if !json.Valid([]byte(j.body)) {
				t.Fatalf("%s JSON is not JSON: %q", api, j.body)
			}
		}
	})
}
