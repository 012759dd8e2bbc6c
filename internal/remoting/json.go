package remoting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"
)

// jsonHeader is the decoding shape of a JSON header. Values whose type varies between producers
// are kept raw.
type jsonHeader struct {
	Code      int32                      `json:"code"`
	Language  json.RawMessage            `json:"language"`
	Version   int32                      `json:"version"`
	Opaque    int32                      `json:"opaque"`
	Flag      int32                      `json:"flag"`
	Remark    *string                    `json:"remark"`
	ExtFields map[string]json.RawMessage `json:"extFields"`
}

// decodeJSONHeader decodes a JSON header as the Go client or Java (fastjson) writes it: any
// field order, unknown fields ignored, remark and extFields absent or null, language as a name or
// a number, extFields values as strings (numbers and booleans are taken as their literal text,
// nulls are dropped).
func decodeJSONHeader(b []byte) (*Command, error) {
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: json header is not an object", ErrBadHeader)
	}
	var h jsonHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: json: %v", ErrBadHeader, err)
	}
	cmd := &Command{
		Code:      h.Code,
		Version:   h.Version,
		Opaque:    h.Opaque,
		Flag:      h.Flag,
		ExtFields: make(map[string]string, len(h.ExtFields)),
	}
	if h.Remark != nil {
		cmd.Remark = *h.Remark
	}
	lang, err := decodeJSONLanguage(h.Language)
	if err != nil {
		return nil, err
	}
	cmd.Language = lang
	for k, raw := range h.ExtFields {
		v, keep, err := decodeJSONExtValue(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: extFields %q: %v", ErrBadHeader, k, err)
		}
		if keep {
			cmd.ExtFields[k] = v
		}
	}
	return cmd, nil
}

func decodeJSONLanguage(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: language: %v", ErrBadHeader, err)
		}
		return s, nil
	default:
		n, err := strconv.ParseInt(string(raw), 10, 32)
		if err != nil {
			return "", fmt.Errorf("%w: language %s is neither a name nor a code", ErrBadHeader, raw)
		}
		return LanguageName(int(n)), nil
	}
}

func decodeJSONExtValue(raw json.RawMessage) (string, bool, error) {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", false, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case raw[0] == '{' || raw[0] == '[':
		return "", false, fmt.Errorf("value must be a string, got %s", raw[:1])
	default: // number, true, false: keep the literal text, as fastjson would stringify it
		return string(raw), true, nil
	}
}

// appendJSONHeader writes the header exactly as the Go client does: fixed field order, compact,
// remark always present, extFields always an object with string values (keys sorted).
func (c *Command) appendJSONHeader(dst []byte) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	dst = append(dst, `,"language":`...)
	dst = appendJSONString(dst, c.Language)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	dst = append(dst, `,"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	dst = append(dst, `,"remark":`...)
	dst = appendJSONString(dst, c.Remark)
	dst = append(dst, `,"extFields":{`...)
	for i, k := range sortedKeys(c.ExtFields) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, c.ExtFields[k])
	}
	return append(dst, "}}"...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD (as encoding/json
// does), control characters and U+2028/U+2029 are escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\':
				dst = append(dst, '\\', b)
			case b < 0x20:
				switch b {
				case '\n':
					dst = append(dst, '\\', 'n')
				case '\r':
					dst = append(dst, '\\', 'r')
				case '\t':
					dst = append(dst, '\\', 't')
				default:
					dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
				}
			default:
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028':
			dst = append(dst, `\u2028`...)
		case r == '\u2029':
			dst = append(dst, `\u2029`...)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
