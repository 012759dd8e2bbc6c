package acl

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// matcher matches a client address against one whiteRemoteAddress pattern.
type matcher interface {
	match(ip netip.Addr) bool
}

type matchNone struct{}

func (matchNone) match(netip.Addr) bool { return false }

type matchAll struct{}

func (matchAll) match(netip.Addr) bool { return true }

type matchPrefix struct{ p netip.Prefix }

func (m matchPrefix) match(ip netip.Addr) bool { return m.p.Contains(ip) }

type matchSet map[netip.Addr]struct{}

func (m matchSet) match(ip netip.Addr) bool { _, ok := m[ip]; return ok }

// matchRange is an IPv4 pattern: each segment a [lo, hi] range.
type matchRange [4][2]uint8

func (m matchRange) match(ip netip.Addr) bool {
	if !ip.Is4() {
		return false
	}
	b := ip.As4()
	for i := range 4 {
		if b[i] < m[i][0] || b[i] > m[i][1] {
			return false
		}
	}
	return true
}

// parsePattern compiles one address pattern (see the package comment).
func parsePattern(s string) (matcher, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return matchNone{}, nil
	case "*", "*.*.*.*", "*:*:*:*:*:*:*:*":
		return matchAll{}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("address pattern %q: %w", s, err)
		}
		return matchPrefix{p.Masked()}, nil
	}
	if i := strings.IndexByte(s, '{'); i >= 0 {
		if !strings.HasSuffix(s, "}") {
			return nil, fmt.Errorf("address pattern %q: '{' without a closing '}' at the end", s)
		}
		set := matchSet{}
		for _, item := range strings.Split(s[i+1:len(s)-1], ",") {
			a, err := netip.ParseAddr(s[:i] + strings.TrimSpace(item))
			if err != nil {
				return nil, fmt.Errorf("address pattern %q: %w", s, err)
			}
			set[a.Unmap()] = struct{}{}
		}
		return set, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return matchSet{a.Unmap(): {}}, nil
	}
	segs := strings.Split(s, ".")
	if len(segs) < 2 || len(segs) > 4 {
		return nil, fmt.Errorf("address pattern %q: want an IP, a.b.c.*, a.b.c-d.*, a.b.c.{x,y}, a CIDR or *", s)
	}
	for len(segs) < 4 { // RocketMQ accepts "192.168.*" for "192.168.*.*"
		if segs[len(segs)-1] != "*" {
			return nil, fmt.Errorf("address pattern %q: a short pattern must end in *", s)
		}
		segs = append(segs, "*")
	}
	var m matchRange
	wild := false
	for i, seg := range segs {
		seg = strings.TrimSpace(seg)
		switch {
		case seg == "*":
			m[i] = [2]uint8{0, 255}
			wild = true
		case strings.Contains(seg, "-"):
			if wild {
				return nil, fmt.Errorf("address pattern %q: only '*' may follow a wildcard segment", s)
			}
			lo, hi, _ := strings.Cut(seg, "-")
			l, err1 := octet(lo)
			h, err2 := octet(hi)
			if err1 != nil || err2 != nil || l > h {
				return nil, fmt.Errorf("address pattern %q: bad range %q", s, seg)
			}
			m[i] = [2]uint8{l, h}
			wild = true
		default:
			if wild {
				return nil, fmt.Errorf("address pattern %q: only '*' may follow a wildcard segment", s)
			}
			v, err := octet(seg)
			if err != nil {
				return nil, fmt.Errorf("address pattern %q: bad segment %q", s, seg)
			}
			m[i] = [2]uint8{v, v}
		}
	}
	if !wild {
		return nil, fmt.Errorf("address pattern %q: not an address", s)
	}
	return m, nil
}

func octet(s string) (uint8, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("bad octet %q", s)
	}
	return uint8(n), nil
}

// remoteIP extracts the IP of "ip:port", "[ipv6]:port" or a bare IP; ok is false when it is
// neither.
func remoteIP(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap(), true
	}
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	a, err := netip.ParseAddr(remote)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
