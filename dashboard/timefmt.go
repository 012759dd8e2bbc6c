package dashboard

import (
	"strconv"
	"strings"
	"time"
)

// Every time the dashboard shows is UTC with the zone written out, and every time a form accepts
// names its zone: there is no "local time" on a page that operators in several zones share.
const (
	// TimeLayout is how times are shown: 2026-12-03 09:15:04.123 UTC.
	TimeLayout = "2006-01-02 15:04:05.000 UTC"
	// inputLayout is how the forms prefill a time: 2026-12-03 09:15:04 UTC.
	inputLayout = "2006-01-02 15:04:05 UTC"
	// TimeInputHint says what the time fields accept.
	TimeInputHint = "YYYY-MM-DD HH:MM[:SS[.mmm]] UTC, or RFC 3339 such as 2006-01-02T15:04:05Z or …+01:00"
)

// formatTime shows t in UTC with the zone ("—" for the zero time).
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(TimeLayout)
}

// formatMillis shows milliseconds since the epoch in UTC with the zone ("—" for 0 or less:
// a store or born time that is not known).
func formatMillis(ms int64) string {
	if ms <= 0 {
		return "—"
	}
	return formatTime(time.UnixMilli(ms))
}

// parseTime reads a time field: empty → def; RFC 3339 (any offset, fractional seconds allowed);
// YYYY-MM-DD HH:MM[:SS[.fff]] followed by " UTC"; or milliseconds since the epoch (the API's
// form). A date-time without a zone is refused, naming the value: it would mean a different
// instant to each reader. The result is in UTC.
func parseTime(s string, def time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return time.Time{}, badf("time %q is negative milliseconds", s)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if len(s) > 4 && strings.EqualFold(s[len(s)-4:], " UTC") {
		v := strings.TrimSpace(s[:len(s)-4])
		for _, l := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
			// Parsing accepts a fractional second after the seconds even though the layout has none.
			if t, err := time.ParseInLocation(l, v, time.UTC); err == nil {
				return t, nil
			}
		}
		return time.Time{}, badf("time %q is not a date and time before \" UTC\" (want %s)", s, TimeInputHint)
	}
	for _, l := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if _, err := time.Parse(l, s); err == nil {
			return time.Time{}, badf("time %q names no zone: add \" UTC\" or write it in RFC 3339 with Z or an offset (%s)", s, TimeInputHint)
		}
	}
	return time.Time{}, badf("time %q is not %s, nor milliseconds since the epoch", s, TimeInputHint)
}
