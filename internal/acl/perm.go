package acl

import (
	"fmt"
	"strings"
)

// Perm is a permission set, with RocketMQ's bit values.
type Perm uint8

// Permission bits.
const (
	Deny Perm = 1
	Any  Perm = 1 << 1
	Pub  Perm = 1 << 2
	Sub  Perm = 1 << 3
)

// ParsePerm reads DENY, PUB, SUB, PUB|SUB or SUB|PUB (spaces around '|' allowed).
func ParsePerm(s string) (Perm, error) {
	switch strings.ReplaceAll(strings.TrimSpace(s), " ", "") {
	case "DENY":
		return Deny, nil
	case "PUB":
		return Pub, nil
	case "SUB":
		return Sub, nil
	case "PUB|SUB", "SUB|PUB":
		return Pub | Sub, nil
	}
	return 0, fmt.Errorf("permission %q: want DENY, PUB, SUB or PUB|SUB", s)
}

// String returns the plain_acl.yml spelling.
func (p Perm) String() string {
	switch {
	case p&Deny != 0:
		return "DENY"
	case p&(Pub|Sub) == Pub|Sub:
		return "PUB|SUB"
	case p&Pub != 0:
		return "PUB"
	case p&Sub != 0:
		return "SUB"
	case p&Any != 0:
		return "ANY"
	}
	return "NONE"
}

// allows reports whether owned grants needed (RocketMQ's Permission.checkPermission).
func allows(owned, needed Perm) bool {
	if owned&Deny != 0 {
		return false
	}
	if needed&Any != 0 {
		return owned&(Pub|Sub) != 0
	}
	return needed&owned != 0
}
