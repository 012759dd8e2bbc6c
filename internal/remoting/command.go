package remoting

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/skiffmq/skiff/internal/protocol"
)

// Sentinel errors. Every error returned by this package wraps one of them and names the values involved.
var (
	// ErrFrameTooShort is returned when a frame's length field is below the minimum (4 bytes).
	ErrFrameTooShort = errors.New("remoting: frame too short")
	// ErrFrameTooLarge is returned when a frame's length field exceeds the maximum frame size.
	ErrFrameTooLarge = errors.New("remoting: frame too large")
	// ErrBadHeaderLength is returned when the header length does not fit in the frame, or is too
	// short for the serialization type.
	ErrBadHeaderLength = errors.New("remoting: bad header length")
	// ErrUnknownSerializeType is returned for a serialization type other than JSON (0) or ROCKETMQ (1).
	ErrUnknownSerializeType = errors.New("remoting: unknown serialize type")
	// ErrBadHeader is returned when the header bytes cannot be decoded.
	ErrBadHeader = errors.New("remoting: bad header")
	// ErrEncode is returned by Encode for a command that cannot be put on the wire (a code or version
	// outside int16, a header longer than 16 MiB-1).
	ErrEncode = errors.New("remoting: cannot encode")
	// ErrMissingField is returned by the Ext* readers when a required extField is absent.
	ErrMissingField = errors.New("remoting: missing header field")
	// ErrBadField is returned by the Ext* readers when an extField does not parse.
	ErrBadField = errors.New("remoting: bad header field")
)

// ExtField is one raw extFields entry (key and value as they travelled).
type ExtField = protocol.ExtField

// Command is one remoting command: a request or a response (§1.3).
//
// The custom header has two representations. ExtFields is the map most code reads and writes.
// A command decoded by DecodeFrameRaw (the server and the rpc client decode every frame that way)
// keeps its entries as a list instead, with ExtFields nil, so the hot paths (send, pull) read
// typed headers without building a map; MaterializeExt turns the list into the map. Invariant:
// when ExtFields is not nil it holds every entry and the list is empty. The Ext* readers,
// RangeExt, ExtList, AddExt and SetExt work on either form.
type Command struct {
	Code          int32             // request code or response code; must fit int16 on the wire
	Language      string            // "GO", "JAVA", ...
	Version       int32             // MQVersion ordinal of the sender; must fit int16 on the wire
	Opaque        int32             // request id, echoed in the response
	Flag          int32             // bit 0 response, bit 1 oneway
	Remark        string            // status/error text; "" when absent
	ExtFields     map[string]string // the custom header; nil when absent or while it is kept as a list
	Body          []byte            // payload after the header
	SerializeType byte              // SerializeJSON (0) or SerializeRocketMQ (1)

	ext  []ExtField // the custom header as a list (wire order) while ExtFields is nil
	view []byte     // the lent frame a Borrowed command aliases (DecodeFrameView); nil when owned
}

var opaqueCounter atomic.Int32

// NextOpaque returns a fresh request id from a process-wide counter that starts at 1.
func NextOpaque() int32 { return opaqueCounter.Add(1) }

// NewRequest returns a request with a fresh opaque, JSON header, language "GO" and CurrentVersion.
// ext is used as is (not copied); a nil ext gets an empty map so SetExt works.
func NewRequest(code int32, ext map[string]string, body []byte) *Command {
	if ext == nil {
		ext = map[string]string{}
	}
	return &Command{
		Code:          code,
		Language:      "GO",
		Version:       CurrentVersion,
		Opaque:        NextOpaque(),
		ExtFields:     ext,
		Body:          body,
		SerializeType: SerializeJSON,
	}
}

// NewResponse returns a response to req: same opaque and serialization, the response flag set,
// language "GO", CurrentVersion and an empty extFields map.
func NewResponse(req *Command, code int32, remark string) *Command {
	return &Command{
		Code:          code,
		Language:      "GO",
		Version:       CurrentVersion,
		Opaque:        req.Opaque,
		Flag:          FlagResponse,
		Remark:        remark,
		ExtFields:     map[string]string{},
		SerializeType: req.SerializeType,
	}
}

// NewResponseList is NewResponse with the custom header kept as a list (ExtFields nil): AddExt
// appends to it and the encoder writes the entries in that order, with no map on the way.
func NewResponseList(req *Command, code int32, remark string) *Command {
	c := ResponseListOf(req, code, remark)
	return &c
}

// ResponseListOf is NewResponseList returning the command by value, for a caller that keeps the
// response inside a larger object (one allocation per request instead of one per part).
func ResponseListOf(req *Command, code int32, remark string) Command {
	return Command{
		Code:          code,
		Language:      "GO",
		Version:       CurrentVersion,
		Opaque:        req.Opaque,
		Flag:          FlagResponse,
		Remark:        remark,
		SerializeType: req.SerializeType,
	}
}

// NewRequestList is NewRequest with the custom header kept as a list (see NewResponseList).
func NewRequestList(code int32, body []byte) *Command {
	c := RequestListOf(code, body)
	return &c
}

// RequestListOf is NewRequestList returning the command by value, for a caller that keeps the
// request inside a larger object.
func RequestListOf(code int32, body []byte) Command {
	return Command{
		Code:          code,
		Language:      "GO",
		Version:       CurrentVersion,
		Opaque:        NextOpaque(),
		Body:          body,
		SerializeType: SerializeJSON,
	}
}

// IsResponse reports whether the response bit (0x1) of Flag is set.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether the oneway bit (0x2) of Flag is set.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// MarkResponse sets the response bit.
func (c *Command) MarkResponse() { c.Flag |= FlagResponse }

// MarkOneway sets the oneway bit.
func (c *Command) MarkOneway() { c.Flag |= FlagOneway }

// String describes the command for logs (no body, no extFields).
func (c *Command) String() string {
	kind := "request"
	if c.IsResponse() {
		kind = "response"
	}
	return fmt.Sprintf("%s code=%d opaque=%d flag=%d remark=%q body=%d", kind, c.Code, c.Opaque, c.Flag, c.Remark, len(c.Body))
}

// SetExt sets extField k to v and returns c. A command holding its header as a list updates the
// list; otherwise the map is used (and created when needed).
func (c *Command) SetExt(k, v string) *Command {
	if c.ExtFields == nil && len(c.ext) > 0 {
		for i := range c.ext {
			if c.ext[i].Key == k {
				c.ext[i].Value = v
				return c
			}
		}
		c.ext = append(c.ext, ExtField{Key: k, Value: v})
		return c
	}
	if c.ExtFields == nil {
		c.ExtFields = map[string]string{}
	}
	c.ExtFields[k] = v
	return c
}

// AddExt appends extField k=v without looking for an earlier k: the caller sets each key once.
// It writes to the map when the command has one, else to the list. It returns c.
func (c *Command) AddExt(k, v string) *Command {
	if c.ExtFields != nil {
		c.ExtFields[k] = v
		return c
	}
	if c.ext == nil {
		c.ext = make([]ExtField, 0, 8)
	}
	c.ext = append(c.ext, ExtField{Key: k, Value: v})
	return c
}

// AddExtInt is AddExt with the decimal form of v.
func (c *Command) AddExtInt(k string, v int64) *Command { return c.AddExt(k, strconv.FormatInt(v, 10)) }

// SetExtInt sets extField k to the decimal form of v and returns c.
func (c *Command) SetExtInt(k string, v int64) *Command { return c.SetExt(k, strconv.FormatInt(v, 10)) }

// SetExtBool sets extField k to "true" or "false" and returns c.
func (c *Command) SetExtBool(k string, v bool) *Command { return c.SetExt(k, strconv.FormatBool(v)) }

// Ext returns extField name and whether it is present.
func (c *Command) Ext(name string) (string, bool) {
	if c.ExtFields != nil {
		v, ok := c.ExtFields[name]
		return v, ok
	}
	for i := len(c.ext) - 1; i >= 0; i-- {
		if c.ext[i].Key == name {
			return c.ext[i].Value, true
		}
	}
	return "", false
}

// ExtValue returns extField name, "" when absent.
func (c *Command) ExtValue(name string) string {
	v, _ := c.Ext(name)
	return v
}

// ExtLen returns the number of extFields.
func (c *Command) ExtLen() int {
	if c.ExtFields != nil {
		return len(c.ExtFields)
	}
	return len(c.ext)
}

// RangeExt calls fn for every extField (every raw entry, including ones no typed header knows),
// in wire order for a command that keeps its header as a list and in sorted key order for a map,
// until fn returns false. The ACL signature check uses it.
func (c *Command) RangeExt(fn func(k, v string) bool) {
	if c.ExtFields != nil {
		for _, k := range sortedKeys(c.ExtFields) {
			if !fn(k, c.ExtFields[k]) {
				return
			}
		}
		return
	}
	for _, f := range c.ext {
		if !fn(f.Key, f.Value) {
			return
		}
	}
}

// ExtList returns a copy of every extField, sorted by key.
func (c *Command) ExtList() []ExtField {
	out := make([]ExtField, 0, c.ExtLen())
	c.RangeExt(func(k, v string) bool { out = append(out, ExtField{Key: k, Value: v}); return true })
	slices.SortFunc(out, func(a, b ExtField) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// MaterializeExt moves a list-form custom header into the ExtFields map (always non-nil
// afterwards) and returns c.
func (c *Command) MaterializeExt() *Command {
	if c.ExtFields != nil {
		return c
	}
	m := make(map[string]string, len(c.ext))
	for _, f := range c.ext {
		m[f.Key] = f.Value
	}
	c.ExtFields, c.ext = m, nil
	return c
}

// ExtString returns the required extField name; ErrMissingField when absent.
func (c *Command) ExtString(name string) (string, error) {
	v, ok := c.Ext(name)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrMissingField, name)
	}
	return v, nil
}

// ExtInt64 parses the required extField name as a decimal int64 (Java Long.parseLong).
func (c *Command) ExtInt64(name string) (int64, error) {
	v, ok := c.Ext(name)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrMissingField, name)
	}
	return parseInt(name, v, 64)
}

// ExtInt32 parses the required extField name as a decimal int32 (Java Integer.parseInt).
func (c *Command) ExtInt32(name string) (int32, error) {
	v, ok := c.Ext(name)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrMissingField, name)
	}
	n, err := parseInt(name, v, 32)
	return int32(n), err
}

// ExtBool reads the required extField name with Java's Boolean.parseBoolean rule: "true" in any
// case is true, any other value is false.
func (c *Command) ExtBool(name string) (bool, error) {
	v, ok := c.Ext(name)
	if !ok {
		return false, fmt.Errorf("%w: %s", ErrMissingField, name)
	}
	return strings.EqualFold(v, "true"), nil
}

// ExtInt64Or is ExtInt64 for an optional field: def when absent, an error only for a bad value.
func (c *Command) ExtInt64Or(name string, def int64) (int64, error) {
	v, ok := c.Ext(name)
	if !ok {
		return def, nil
	}
	return parseInt(name, v, 64)
}

// ExtInt32Or is ExtInt32 for an optional field: def when absent, an error only for a bad value.
func (c *Command) ExtInt32Or(name string, def int32) (int32, error) {
	v, ok := c.Ext(name)
	if !ok {
		return def, nil
	}
	n, err := parseInt(name, v, 32)
	return int32(n), err
}

// ExtBoolOr is ExtBool for an optional field: def when absent.
func (c *Command) ExtBoolOr(name string, def bool) bool {
	v, ok := c.Ext(name)
	if !ok {
		return def
	}
	return strings.EqualFold(v, "true")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseInt parses like Java's parseInt/parseLong: optional sign, decimal digits, no spaces.
func parseInt(name, v string, bits int) (int64, error) {
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q is not an int%d", ErrBadField, name, v, bits)
	}
	return n, nil
}

// fitsInt16 reports whether v can travel in a Java short.
func fitsInt16(v int32) bool { return v >= math.MinInt16 && v <= math.MaxInt16 }

// RawExt returns the custom header as a list without copying when the command keeps it as one;
// for a command with a map it returns the map's entries (sorted by key). Typed headers in
// package protocol decode from it. The result must not be modified.
func (c *Command) RawExt() []ExtField {
	if c.ExtFields == nil {
		return c.ext
	}
	return c.ExtList()
}

// SetRawExt replaces the custom header by list (kept as a list; ExtFields becomes nil) and
// returns c. Typed headers in package protocol encode into such a list.
func (c *Command) SetRawExt(list []ExtField) *Command {
	c.ExtFields, c.ext = nil, list
	return c
}
