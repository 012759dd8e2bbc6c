package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// ErrBadHeader is returned when header bytes cannot be decoded. Errors wrap it and say where.
var ErrBadHeader = errors.New("protocol: bad header")

// ErrEncode is returned for a header that cannot be put on the wire.
var ErrEncode = errors.New("protocol: cannot encode header")

// ExtField is one raw extFields entry, exactly as it travelled (after JSON unescaping).
type ExtField struct {
	Key, Value string
}

// Header is the remoting command header of §1.3, decoded without a map: the extFields stay a
// list of raw entries in wire order (a key repeated on the wire keeps only its last value, as a
// JSON or Java map would).
type Header struct {
	Code     int32
	Language string
	Version  int32
	Opaque   int32
	Flag     int32
	Remark   string
	Ext      []ExtField
}

// aliasString returns a string sharing b's bytes. The decoders use it so that no header field
// costs an allocation; the caller of DecodeJSONHeader / DecodeBinaryHeader owns b and promises
// never to modify it afterwards.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// AliasString returns a string sharing b's bytes, without copying: for encoders that format a
// header's values into a buffer they own (the send processor's answer). The caller must never
// modify b afterwards, or the string changes with it.
func AliasString(b []byte) string { return aliasString(b) }

// putExt appends k=v to ext, replacing an earlier entry with the same key (last wins).
func putExt(ext []ExtField, k, v string) []ExtField {
	for i := range ext {
		if len(ext[i].Key) == len(k) && ext[i].Key == k {
			ext[i].Value = v
			return ext
		}
	}
	return append(ext, ExtField{k, v})
}

// keySet is a 64-bit filter of the keys put into a header list: put scans the list for an
// earlier entry with the same key only when the key's bit is already set, so a header of
// distinct keys (every real one) decodes without putExt's quadratic scan.
type keySet uint64

// keyBit maps a key to one of 64 bits: a one-letter key (the send header of SEND_MESSAGE_V2)
// by its letter, so that a..z never collide; a longer one by a hash of its length and first,
// middle and last bytes.
func keyBit(k string) keySet {
	switch len(k) {
	case 0:
		return 1
	case 1:
		return 1 << (k[0] & 63)
	}
	x := uint64(len(k))<<24 | uint64(k[0])<<16 | uint64(k[len(k)/2])<<8 | uint64(k[len(k)-1])
	return 1 << ((x * 0x9E3779B97F4A7C15) >> 58)
}

// put is putExt for a list whose every key went through this set.
func (ks *keySet) put(ext []ExtField, k, v string) []ExtField {
	if bit := keyBit(k); *ks&bit == 0 {
		*ks |= bit
		return append(ext, ExtField{k, v})
	}
	return putExt(ext, k, v)
}

// dropExt removes the entry with key k (a JSON null value).
func dropExt(ext []ExtField, k string) []ExtField {
	for i := range ext {
		if ext[i].Key == k {
			copy(ext[i:], ext[i+1:])
			return ext[:len(ext)-1]
		}
	}
	return ext
}

// ---- JSON (serType 0) ----

// DecodeJSONHeader decodes a JSON header into h (h.Ext is reused: h.Ext[:0] is appended to). It
// accepts exactly what encoding/json accepts when decoding into {code int32, language raw,
// version int32, opaque int32, flag int32, remark *string, extFields map[string]raw}, and yields
// the same values (the fuzz test checks this against encoding/json): any field order, field
// names in any case, unknown fields skipped, remark and extFields absent or null, language a
// name or a number, extFields values strings (numbers and booleans kept as their literal text,
// nulls dropped, objects and arrays refused).
//
// Zero allocations: strings are unescaped in place inside b and returned as aliases of b, so b
// must not be modified or reused after the call.
func DecodeJSONHeader(b []byte, h *Header) error {
	*h = Header{Ext: h.Ext[:0]}
	s := jscan{b: b}
	s.ws()
	if s.i >= len(b) || b[s.i] != '{' {
		return fmt.Errorf("%w: json header is not an object", ErrBadHeader)
	}
	s.i++
	s.ws()
	var langRaw []byte
	langSet, langString := false, false
	var langStr string
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			s.ws()
			key, err := s.str()
			if err != nil {
				return err
			}
			s.ws()
			if s.peek() != ':' {
				return s.errf("expected ':' after object key")
			}
			s.i++
			s.ws()
			switch f := fieldOf(key); f {
			case fCode, fVersion, fOpaque, fFlag:
				n, isNull, err := s.int32()
				if err != nil {
					return err
				}
				if !isNull {
					switch f {
					case fCode:
						h.Code = n
					case fVersion:
						h.Version = n
					case fOpaque:
						h.Opaque = n
					case fFlag:
						h.Flag = n
					}
				}
			case fRemark:
				if s.literal("null") {
					h.Remark = ""
					break
				}
				if s.peek() != '"' {
					if err := s.skip(); err != nil {
						return err
					}
					return s.errf("remark is not a string")
				}
				v, err := s.str()
				if err != nil {
					return err
				}
				h.Remark = v
			case fLanguage:
				langSet = true
				if s.peek() == '"' {
					v, err := s.str()
					if err != nil {
						return err
					}
					langString, langStr = true, v
					break
				}
				start := s.i
				if err := s.skip(); err != nil {
					return err
				}
				langString, langRaw = false, b[start:s.i]
			case fExt:
				if s.literal("null") {
					h.Ext = h.Ext[:0]
					break
				}
				if s.peek() != '{' {
					if err := s.skip(); err != nil {
						return err
					}
					return s.errf("extFields is not an object")
				}
				if err := s.extObject(h); err != nil {
					return err
				}
			default:
				if err := s.skip(); err != nil {
					return err
				}
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == ',' {
				continue
			}
			if c == '}' {
				break
			}
			return s.errf("expected ',' or '}' in object")
		}
	}
	s.ws()
	if s.i != len(b) {
		return s.errf("data after the header object")
	}
	if langSet {
		if langString {
			h.Language = langStr
		} else if string(langRaw) != "null" {
			n, err := strconv.ParseInt(aliasString(langRaw), 10, 32)
			if err != nil {
				return fmt.Errorf("%w: language %s is neither a name nor a code", ErrBadHeader, langRaw)
			}
			h.Language = LanguageName(int(n))
		}
	}
	return nil
}

type field int

const (
	fOther field = iota
	fCode
	fLanguage
	fVersion
	fOpaque
	fFlag
	fRemark
	fExt
)

var fieldNames = [...]string{fCode: "code", fLanguage: "language", fVersion: "version", fOpaque: "opaque",
	fFlag: "flag", fRemark: "remark", fExt: "extFields"}

// fieldOf matches a top-level key like encoding/json: exact name first, then case-insensitively.
func fieldOf(k string) field {
	switch k {
	case "code":
		return fCode
	case "language":
		return fLanguage
	case "version":
		return fVersion
	case "opaque":
		return fOpaque
	case "flag":
		return fFlag
	case "remark":
		return fRemark
	case "extFields":
		return fExt
	}
	for f := fCode; f <= fExt; f++ {
		if strings.EqualFold(k, fieldNames[f]) {
			return f
		}
	}
	return fOther
}

// jscan is a validating JSON scanner over one header.
type jscan struct {
	b    []byte
	i    int
	keys keySet // the extFields keys in h.Ext
}

func (s *jscan) errf(format string, args ...any) error {
	return fmt.Errorf("%w: json at byte %d: %s", ErrBadHeader, s.i, fmt.Sprintf(format, args...))
}

func (s *jscan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jscan) ws() {
	b, i := s.b, s.i
	if i < len(b) && b[i] > ' ' { // nearly always: compact JSON
		return
	}
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			s.i = i
			return
		}
	}
	s.i = i
}

// literal consumes lit (true, false, null) when it is next.
func (s *jscan) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// number consumes a JSON number and returns its text.
func (s *jscan) number() ([]byte, error) {
	start := s.i
	b := s.b
	if s.i < len(b) && b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(b) && b[s.i] == '0':
		s.i++
	case s.i < len(b) && b[s.i] >= '1' && b[s.i] <= '9':
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	default:
		return nil, s.errf("invalid number")
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		d := s.i
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return nil, s.errf("invalid number")
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		d := s.i
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return nil, s.errf("invalid number")
		}
	}
	return b[start:s.i], nil
}

// int32 reads an int32 field: a number that fits (no fraction or exponent), or null.
func (s *jscan) int32() (int32, bool, error) {
	if s.literal("null") {
		return 0, true, nil
	}
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		if err := s.skip(); err != nil {
			return 0, false, err
		}
		return 0, false, s.errf("expected a number")
	}
	num, err := s.number()
	if err != nil {
		return 0, false, err
	}
	n, ok := parseInt32(num)
	if !ok {
		return 0, false, s.errf("number %s does not fit an int32", num)
	}
	return n, false, nil
}

// parseInt32 parses a decimal integer with an optional '-' sign.
func parseInt32(b []byte) (int32, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, false
	}
	return int32(n), true
}

// str consumes a JSON string and returns it unescaped. The unescaped bytes are written in place
// (they are never longer than the escaped text) and the result aliases s.b. Invalid UTF-8 is
// replaced by U+FFFD like encoding/json does; that may grow the text, so that rare case gets a
// fresh allocation.
func (s *jscan) str() (string, error) {
	b := s.b
	if s.i >= len(b) || b[s.i] != '"' {
		return "", s.errf("expected a string")
	}
	start := s.i + 1
	i := start // a local index: the scan loop keeps it in a register
	// Fast path: no escapes, plain ASCII or valid UTF-8.
	for i < len(b) {
		for i < len(b) && plainASCII[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		if c == '"' {
			s.i = i + 1
			return aliasString(b[start:i]), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
			continue
		}
		i++
	}
	s.i = i
	return s.strSlow(start)
}

// plainASCII marks the bytes a JSON string holds as themselves: printable ASCII but '"' and '\\'.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// strSlow unescapes from b[start:] (s.i is somewhere inside the string).
func (s *jscan) strSlow(start int) (string, error) {
	b := s.b
	w := s.i // bytes before s.i are already final
	var grown []byte
	emit := func(p []byte) {
		if grown != nil {
			grown = append(grown, p...)
			return
		}
		if w+len(p) <= s.i {
			w += copy(b[w:], p)
			return
		}
		grown = append(append(make([]byte, 0, (w-start)+len(p)+(len(b)-s.i)), b[start:w]...), p...)
	}
	var tmp [utf8.UTFMax]byte
	for s.i < len(b) {
		c := b[s.i]
		switch {
		case c == '"':
			s.i++
			if grown != nil {
				return string(grown), nil
			}
			return aliasString(b[start:w]), nil
		case c < 0x20:
			return "", s.errf("control character in string")
		case c == '\\':
			if s.i+1 >= len(b) {
				return "", s.errf("unterminated escape")
			}
			e := b[s.i+1]
			var out byte
			switch e {
			case '"', '\\', '/':
				out = e
			case 'b':
				out = '\b'
			case 'f':
				out = '\f'
			case 'n':
				out = '\n'
			case 'r':
				out = '\r'
			case 't':
				out = '\t'
			case 'u':
				r := getu4(b[s.i:])
				if r < 0 {
					return "", s.errf("bad \\u escape")
				}
				s.i += 6
				if utf16.IsSurrogate(r) {
					r2 := getu4(b[s.i:])
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						s.i += 6
						n := utf8.EncodeRune(tmp[:], dec)
						emit(tmp[:n])
						continue
					}
					r = utf8.RuneError
				}
				n := utf8.EncodeRune(tmp[:], r)
				emit(tmp[:n])
				continue
			default:
				return "", s.errf("bad escape \\%c", e)
			}
			s.i += 2
			tmp[0] = out
			emit(tmp[:1])
		case c < utf8.RuneSelf:
			j := s.i + 1
			for j < len(b) && plainASCII[b[j]] {
				j++
			}
			if grown != nil {
				grown = append(grown, b[s.i:j]...)
			} else {
				w += copy(b[w:], b[s.i:j])
			}
			s.i = j
		default:
			r, n := utf8.DecodeRune(b[s.i:])
			if r == utf8.RuneError && n == 1 {
				s.i++
				emit([]byte("\uFFFD"))
				continue
			}
			// Copy before advancing: emit writes only below s.i.
			var rb [utf8.UTFMax]byte
			copy(rb[:], b[s.i:s.i+n])
			s.i += n
			emit(rb[:n])
		}
	}
	return "", s.errf("unterminated string")
}

// getu4 decodes \uXXXX at the start of b, or returns -1.
func getu4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// skip consumes and validates any JSON value.
func (s *jscan) skip() error {
	return s.skipDepth(0)
}

func (s *jscan) skipDepth(depth int) error {
	if depth > 10000 {
		return s.errf("nested too deeply")
	}
	s.ws()
	switch c := s.peek(); {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		s.i++
		s.ws()
		if s.peek() == '}' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if _, err := s.str(); err != nil {
				return err
			}
			s.ws()
			if s.peek() != ':' {
				return s.errf("expected ':' after object key")
			}
			s.i++
			if err := s.skipDepth(depth + 1); err != nil {
				return err
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == ',' {
				continue
			}
			if c == '}' {
				return nil
			}
			return s.errf("expected ',' or '}' in object")
		}
	case c == '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skipDepth(depth + 1); err != nil {
				return err
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == ',' {
				continue
			}
			if c == ']' {
				return nil
			}
			return s.errf("expected ',' or ']' in array")
		}
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := s.number()
		return err
	case s.literal("true"), s.literal("false"), s.literal("null"):
		return nil
	}
	return s.errf("invalid value")
}

// extObject decodes the extFields object into h.Ext.
func (s *jscan) extObject(h *Header) error {
	s.i++ // '{'
	s.ws()
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		k, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if s.peek() != ':' {
			return s.errf("expected ':' after object key")
		}
		s.i++
		s.ws()
		switch c := s.peek(); {
		case c == '"':
			v, err := s.str()
			if err != nil {
				return err
			}
			h.Ext = s.keys.put(h.Ext, k, v)
		case s.literal("null"):
			h.Ext = dropExt(h.Ext, k)
		case c == '{' || c == '[':
			if err := s.skip(); err != nil {
				return err
			}
			return fmt.Errorf("%w: extFields %q: value must be a string, got %c", ErrBadHeader, k, c)
		default:
			start := s.i
			if err := s.skip(); err != nil {
				return err
			}
			h.Ext = s.keys.put(h.Ext, k, aliasString(s.b[start:s.i]))
		}
		s.ws()
		c := s.peek()
		s.i++
		if c == ',' {
			continue
		}
		if c == '}' {
			return nil
		}
		return s.errf("expected ',' or '}' in extFields")
	}
}

// AppendJSONHeader writes h exactly as the Go client does: fixed field order, compact, remark
// always present, extFields always an object of strings, in the order of h.Ext.
func AppendJSONHeader(dst []byte, h *Header) []byte {
	dst = AppendJSONHeaderStart(dst, h)
	for i, f := range h.Ext {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, f.Key)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, f.Value)
	}
	return append(dst, "}}"...)
}

// AppendJSONHeaderStart writes everything of h up to and including `"extFields":{`; the caller
// appends the entries and closes with "}}".
func AppendJSONHeaderStart(dst []byte, h *Header) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(h.Code), 10)
	dst = append(dst, `,"language":`...)
	dst = AppendJSONString(dst, h.Language)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(h.Version), 10)
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(h.Opaque), 10)
	dst = append(dst, `,"flag":`...)
	dst = strconv.AppendInt(dst, int64(h.Flag), 10)
	dst = append(dst, `,"remark":`...)
	dst = AppendJSONString(dst, h.Remark)
	return append(dst, `,"extFields":{`...)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD (as encoding/json
// does), control characters and U+2028/U+2029 are escaped.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			switch r {
			case '\u2028':
				dst = append(dst, `\u2028`...)
			case '\u2029':
				dst = append(dst, `\u2029`...)
			default:
				dst = append(dst, `\ufffd`...)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ---- ROCKETMQ binary (serType 1) ----

// MinBinaryHeader is the fixed part of a ROCKETMQ header.
const MinBinaryHeader = 21

// DecodeBinaryHeader decodes a ROCKETMQ header (§1.5) into h (h.Ext is reused). Strings of
// length 0 decode as "" (Java reads them as null). Bytes after the ext section are ignored, as
// Java does. Strings alias b, which must not be modified afterwards.
func DecodeBinaryHeader(b []byte, h *Header) error {
	*h = Header{Ext: h.Ext[:0]}
	var keys keySet
	if len(b) < MinBinaryHeader {
		return fmt.Errorf("%w: rocketmq header of %d bytes < %d", ErrBadHeader, len(b), MinBinaryHeader)
	}
	h.Code = int32(int16(binary.BigEndian.Uint16(b[0:])))
	h.Language = LanguageName(int(b[2]))
	h.Version = int32(int16(binary.BigEndian.Uint16(b[3:])))
	h.Opaque = int32(binary.BigEndian.Uint32(b[5:]))
	h.Flag = int32(binary.BigEndian.Uint32(b[9:]))
	p := 13
	remarkLen := int64(int32(binary.BigEndian.Uint32(b[p:])))
	p += 4
	if remarkLen < 0 || remarkLen > int64(len(b)-p-4) {
		return fmt.Errorf("%w: remark length %d runs past the header (%d bytes)", ErrBadHeader, remarkLen, len(b))
	}
	h.Remark = aliasString(b[p : p+int(remarkLen)])
	p += int(remarkLen)
	extLen := int64(int32(binary.BigEndian.Uint32(b[p:])))
	p += 4
	if extLen < 0 || extLen > int64(len(b)-p) {
		return fmt.Errorf("%w: ext length %d runs past the header (%d bytes)", ErrBadHeader, extLen, len(b))
	}
	ext := b[p : p+int(extLen)]
	for q := 0; q < len(ext); {
		if len(ext)-q < 2 {
			return fmt.Errorf("%w: truncated ext key length at %d", ErrBadHeader, q)
		}
		kl := int(int16(binary.BigEndian.Uint16(ext[q:])))
		q += 2
		if kl < 0 || kl > len(ext)-q {
			return fmt.Errorf("%w: ext key length %d runs past the ext section", ErrBadHeader, kl)
		}
		k := aliasString(ext[q : q+kl])
		q += kl
		if len(ext)-q < 4 {
			return fmt.Errorf("%w: truncated ext value length for key %q", ErrBadHeader, k)
		}
		vl := int64(int32(binary.BigEndian.Uint32(ext[q:])))
		q += 4
		if vl < 0 || vl > int64(len(ext)-q) {
			return fmt.Errorf("%w: ext value length %d for key %q runs past the ext section", ErrBadHeader, vl, k)
		}
		h.Ext = keys.put(h.Ext, k, aliasString(ext[q:q+int(vl)]))
		q += int(vl)
	}
	return nil
}

// AppendBinaryHeader writes h as a ROCKETMQ header, ext entries in the order of h.Ext.
func AppendBinaryHeader(dst []byte, h *Header) ([]byte, error) {
	dst, err := AppendBinaryHeaderStart(dst, h)
	if err != nil {
		return dst, err
	}
	lenAt := len(dst) - 4
	for _, f := range h.Ext {
		if dst, err = AppendBinaryExt(dst, f.Key, f.Value); err != nil {
			return dst, err
		}
	}
	return FinishBinaryHeader(dst, lenAt)
}

// AppendBinaryHeaderStart writes the fixed part, the remark and a placeholder for the ext
// length, which FinishBinaryHeader(dst, len(dst)-4) fills after the entries.
func AppendBinaryHeaderStart(dst []byte, h *Header) ([]byte, error) {
	if len(h.Remark) > math.MaxInt32 {
		return dst, fmt.Errorf("%w: remark of %d bytes", ErrEncode, len(h.Remark))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(h.Code)))
	dst = append(dst, LanguageCode(h.Language))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(h.Version)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.Opaque))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.Flag))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(h.Remark)))
	dst = append(dst, h.Remark...)
	return append(dst, 0, 0, 0, 0), nil
}

// AppendBinaryExt appends one ext entry.
func AppendBinaryExt(dst []byte, k, v string) ([]byte, error) {
	if len(k) > math.MaxInt16 {
		return dst, fmt.Errorf("%w: ext key of %d bytes", ErrEncode, len(k))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
	dst = append(dst, k...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...), nil
}

// FinishBinaryHeader fills the ext length placeholder at lenAt.
func FinishBinaryHeader(dst []byte, lenAt int) ([]byte, error) {
	extLen := len(dst) - lenAt - 4
	if extLen > math.MaxInt32 {
		return dst, fmt.Errorf("%w: ext section of %d bytes", ErrEncode, extLen)
	}
	binary.BigEndian.PutUint32(dst[lenAt:], uint32(extLen))
	return dst, nil
}
