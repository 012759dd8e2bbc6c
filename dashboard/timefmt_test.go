package dashboard

import (
	"strings"
	"testing"
	"time"
)

// TestParseTime: fixed inputs, a fixed default; every accepted form gives the same UTC instant,
// a date-time without a zone and garbage are refused naming the value.
func TestParseTime(t *testing.T) {
	def := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	want := time.Date(2026, 12, 3, 9, 15, 4, 123e6, time.UTC)
	for in, w := range map[string]time.Time{
		"":                               def,
		"  ":                             def,
		"2026-12-03 09:15:04.123 UTC":    want,
		"2026-12-03 09:15:04.123 utc":    want,
		"2026-12-03T09:15:04.123Z":       want,
		"2026-12-03T10:15:04.123+01:00":  want,
		"2026-12-03T04:15:04.123-05:00":  want,
		"1796289304123":                  want,
		"2026-12-03 09:15:04 UTC":        want.Truncate(time.Second),
		"2026-12-03 09:15 UTC":           want.Truncate(time.Minute),
		"2026-12-03T09:15 UTC":           want.Truncate(time.Minute),
		" 2026-12-03T09:15:04.123456Z ":  time.Date(2026, 12, 3, 9, 15, 4, 123456000, time.UTC),
		"0":                              time.UnixMilli(0).UTC(),
		formatTime(want):                 want, // what the pages show reads back
		want.Format(inputLayout) + "":    want.Truncate(time.Second),
		"2026-12-03T23:59:59.999+23:59":  time.Date(2026, 12, 3, 0, 0, 59, 999e6, time.UTC),
		"2026-12-31 23:59:59.999999 UTC": time.Date(2026, 12, 31, 23, 59, 59, 999999000, time.UTC),
	} {
		got, err := parseTime(in, def)
		if err != nil {
			t.Errorf("parseTime(%q): %v", in, err)
			continue
		}
		if !got.Equal(w) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, want %v in UTC", in, got, w)
		}
	}
	for in, why := range map[string]string{
		"2026-12-03T09:15:04":     "names no zone",
		"2026-12-03 09:15":        "names no zone",
		"2026-12-03 09:15:04 CET": "is not",
		"2026-13-03 09:15:04 UTC": "before \" UTC\"",
		" UTC":                    "is not",
		"yesterday":               "is not",
		"-5":                      "negative",
		"2026-12-03":              "is not",
	} {
		_, err := parseTime(in, def)
		if err == nil || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "\""+strings.TrimSpace(in)+"\"") {
			t.Errorf("parseTime(%q) = %v, want an error that names the value and says %q", in, err, why)
		}
	}
	if s := formatMillis(want.UnixMilli()); s != "2026-12-03 09:15:04.123 UTC" {
		t.Errorf("formatMillis = %q", s)
	}
	if s := formatMillis(0); s != "—" {
		t.Errorf("formatMillis(0) = %q", s)
	}
}
