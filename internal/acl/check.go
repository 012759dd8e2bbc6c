package acl

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/skiffmq/skiff/internal/auth"
	"github.com/skiffmq/skiff/internal/remoting"
)

// Reason classifies a refusal, for metrics and logs.
type Reason string

// Refusal reasons.
const (
	ReasonNoAccessKey  Reason = "no_access_key"
	ReasonUnknownKey   Reason = "unknown_access_key"
	ReasonBadSignature Reason = "bad_signature"
	ReasonNotAdmin     Reason = "not_admin"
	ReasonNoPerm       Reason = "no_permission"
	ReasonBadRequest   Reason = "bad_request"
)

// Request is what Check needs from one remoting request.
type Request struct {
	Code   int32
	Remote string                      // "ip:port" of the peer
	Addr   netip.Addr                  // the peer's IP when the caller parsed it already; zero: Remote is parsed
	Get    func(string) (string, bool) // one extField (unused when Cmd is set)
	// Cmd, when set, is the request itself: fields are read with Cmd.Ext and the signature is
	// checked over its header in place, list or map (the server's path; a func value in Get would
	// be allocated per request, a Content copied).
	Cmd *remoting.Command
	// Every extField, for the signature when Cmd is nil: Content when the caller gathered them
	// (Check leaves it to the caller to release), else Fields.
	Content *auth.Content
	Fields  iter.Seq2[string, string]
	Body    []byte
}

// Denial is a refused request. Its Error is the remark sent to the client: it names the access key
// and the resource, never a secret.
type Denial struct {
	Reason    Reason
	Code      int32
	AccessKey string
	Resource  string // "topic:T", "group:G", or "" when the refusal is about the caller
	Detail    string
}

func (d *Denial) Error() string {
	ak := d.AccessKey
	if ak == "" {
		ak = "<none>"
	}
	res := d.Resource
	if res == "" {
		res = "<request>"
	}
	return fmt.Sprintf("acl: no permission for accessKey=%s resource=%s code=%d: %s", ak, res, d.Code, d.Detail)
}

// Check decides one request; nil means allowed (see the package comment for the order).
func (t *Table) Check(r *Request) *Denial {
	get := r.Get
	if r.Cmd != nil {
		get = r.Cmd.Ext
	}
	ip, ipOK := r.Addr.Unmap(), r.Addr.IsValid()
	if !ipOK {
		ip, ipOK = remoteIP(r.Remote)
	}
	if ipOK {
		for _, m := range t.global {
			if m.match(ip) {
				return nil
			}
		}
	}
	var ak, sig string
	var ok bool
	if r.Cmd != nil && r.Cmd.ExtFields == nil {
		list := r.Cmd.RawExt()
		ak, ok, sig = accessFields(list)
		get = func(k string) (string, bool) { return lookupLast(list, k) }
	} else {
		ak, ok = get(auth.FieldAccessKey)
		sig, _ = get(auth.FieldSignature)
	}
	if !ok || ak == "" {
		return &Denial{Reason: ReasonNoAccessKey, Code: r.Code, Detail: "no AccessKey in the request"}
	}
	a := t.accounts[ak]
	if a == nil {
		return &Denial{Reason: ReasonUnknownKey, Code: r.Code, AccessKey: ak, Detail: "unknown accessKey"}
	}
	if ipOK && a.white.match(ip) {
		return nil
	}
	if !a.verify(sig, r) {
		return &Denial{Reason: ReasonBadSignature, Code: r.Code, AccessKey: ak, Detail: "signature check failed"}
	}
	if !a.admin && AdminOnly(r.Code) {
		return &Denial{Reason: ReasonNotAdmin, Code: r.Code, AccessKey: ak, Detail: fmt.Sprintf("request code %d needs an admin account", r.Code)}
	}
	if a.admin && !a.hasEntries {
		return nil
	}
	var room [4]Need // most codes touch one or two resources; the slice stays on the stack
	needs, err := Resources(r.Code, get, r.Body, room[:0])
	if err != nil {
		return &Denial{Reason: ReasonBadRequest, Code: r.Code, AccessKey: ak, Detail: err.Error()}
	}
	for _, n := range needs {
		owned, ok := a.perms[n.Resource]
		if !ok {
			owned = a.defTopic
			if n.IsGroup() {
				owned = a.defGroup
			}
		}
		if !allows(owned, n.Perm) {
			return &Denial{Reason: ReasonNoPerm, Code: r.Code, AccessKey: ak, Resource: n.Describe(),
				Detail: fmt.Sprintf("needs %s, has %s", n.Perm, owned)}
		}
	}
	return nil
}

// accessFields returns the AccessKey (and whether there is one) and the Signature of a header
// kept as a list, in one pass from the end: of a repeated key the last entry counts, as for
// Command.Ext.
func accessFields(list []remoting.ExtField) (ak string, hasAK bool, sig string) {
	hasSig := false
	for i := len(list) - 1; i >= 0 && !(hasAK && hasSig); i-- {
		switch f := &list[i]; {
		case !hasAK && f.Key == auth.FieldAccessKey:
			ak, hasAK = f.Value, true
		case !hasSig && f.Key == auth.FieldSignature:
			sig, hasSig = f.Value, true
		}
	}
	return ak, hasAK, sig
}

// lookupLast is Command.Ext over a list header (the last entry of key k), deciding on the length
// and the first byte before comparing a key whole: a send's short keys all have one byte, and the
// full comparison of a key not known when compiling is a call.
func lookupLast(list []remoting.ExtField, k string) (string, bool) {
	for i := len(list) - 1; i >= 0; i-- {
		if f := &list[i]; len(f.Key) == len(k) && (len(k) == 0 || f.Key[0] == k[0]) && f.Key == k {
			return f.Value, true
		}
	}
	return "", false
}

// verify checks r's signature under a's key, over the header in whichever form r gives it.
func (a *account) verify(sig string, r *Request) bool {
	switch {
	case r.Cmd != nil && r.Cmd.ExtFields == nil:
		return a.key.VerifyList(sig, r.Cmd.RawExt(), r.Body)
	case r.Cmd != nil:
		return a.key.VerifyMap(sig, r.Cmd.ExtFields, r.Body)
	case r.Content != nil:
		return a.key.VerifyContent(sig, r.Content, r.Body)
	}
	return a.key.Verify(sig, r.Fields, r.Body)
}

// ErrNotAdmin is returned by CheckAdmin for credentials that are not those of an admin account.
var ErrNotAdmin = errors.New("acl: admin credentials required")

// CheckAdmin checks credentials presented directly (HTTP Basic on the admin API and dashboard
// actions): accessKey must name an admin account and secretKey must equal its secret (constant
// time). White addresses do not apply: a change through HTTP always names its account.
func (t *Table) CheckAdmin(accessKey, secretKey string) error {
	a := t.accounts[accessKey]
	if a == nil {
		return fmt.Errorf("%w: unknown accessKey %q", ErrNotAdmin, accessKey)
	}
	if subtle.ConstantTimeCompare(a.secret, []byte(secretKey)) != 1 {
		return fmt.Errorf("%w: wrong secretKey for accessKey %q", ErrNotAdmin, accessKey)
	}
	if !a.admin {
		return fmt.Errorf("%w: accessKey %q is not an admin account", ErrNotAdmin, accessKey)
	}
	return nil
}

// CheckAdmin checks admin credentials against the current table.
func (a *Authorizer) CheckAdmin(accessKey, secretKey string) error {
	return a.table.Load().CheckAdmin(accessKey, secretKey)
}

// Authorizer is the ACL of one daemon: the table read from a plain_acl.yml, replaced when Reload
// finds the file changed. Concurrency: Check reads an atomic pointer; Reload must not run
// concurrently with itself (one owner loop calls it).
type Authorizer struct {
	path    string
	table   atomic.Pointer[Table]
	last    []byte // content of the current table
	lastBad []byte // content that failed to parse, reported once
}

// Load reads and compiles path.
func Load(path string) (*Authorizer, error) {
	a := &Authorizer{path: path}
	if _, err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// NewAuthorizer returns an authorizer over a fixed table (tests, benchmarks).
func NewAuthorizer(t *Table) *Authorizer {
	a := &Authorizer{}
	a.table.Store(t)
	return a
}

// Path returns the file the authorizer reads.
func (a *Authorizer) Path() string { return a.path }

// Reload re-reads the file and swaps in the new table when its content changed. It reports
// whether the table changed. A file that cannot be read or parsed keeps the current table; the same
// bad content is reported once, not on every call.
func (a *Authorizer) Reload() (bool, error) {
	data, err := os.ReadFile(a.path)
	if err != nil {
		return false, fmt.Errorf("acl: read %s: %w", a.path, err)
	}
	if a.table.Load() != nil && (bytes.Equal(data, a.last) || bytes.Equal(data, a.lastBad)) {
		return false, nil
	}
	t, err := Parse(data)
	if err != nil {
		a.lastBad = data
		return false, fmt.Errorf("%s: %w (the previous ACL stays in force)", a.path, err)
	}
	a.last, a.lastBad = data, nil
	a.table.Store(t)
	return true, nil
}

// Table returns the current table.
func (a *Authorizer) Table() *Table { return a.table.Load() }

// Check decides r against the current table.
func (a *Authorizer) Check(r *Request) *Denial { return a.table.Load().Check(r) }
