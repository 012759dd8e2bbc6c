package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Fastjson, the JSON library of RocketMQ's Java nodes, writes map keys that are not strings without
// quotes: integers ({0:"10.0.0.1:10911"}, brokerAddrs) and whole objects
// ({{"brokerName":"b","queueId":0,"topic":"T"}:5}, offset tables). This file is the one place that
// reads that dialect: StandardizeJSON quotes bare keys so encoding/json can take the body, and
// ObjectKeyMap splits a map with object keys into raw key and value objects. Both never panic on
// arbitrary bytes (FuzzProtocolStandardizeJSON, FuzzProtocolObjectKeyMap).

// UnmarshalFastJSON decodes a JSON body in the standard or the fastjson form into v.
func UnmarshalFastJSON(body []byte, v any) error {
	std, err := StandardizeJSON(body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(std, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	return nil
}

// StandardizeJSON rewrites fastjson's unquoted object keys ({0:"a"}, {key:1}) as quoted strings
// and leaves everything else byte for byte, so the result can go to encoding/json. Input that is
// already standard JSON comes back unchanged. It checks only what it needs (string and container
// nesting); encoding/json validates the rest.
func StandardizeJSON(in []byte) ([]byte, error) {
	out := make([]byte, 0, len(in)+16)
	var stack []byte // '{' or '['
	expectKey := false
	changed := false
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == '"':
			j, err := skipString(in, i)
			if err != nil {
				return nil, err
			}
			out = append(out, in[i:j]...)
			i = j
			expectKey = false
			continue
		case c == '{' || c == '[':
			if expectKey {
				return nil, fmt.Errorf("%w: json: object used as a key at %d", ErrBadBody, i)
			}
			if len(stack) >= 1000 {
				return nil, fmt.Errorf("%w: json nested too deep", ErrBadBody)
			}
			stack = append(stack, c)
			expectKey = c == '{'
		case c == '}' || c == ']':
			want := byte('{')
			if c == ']' {
				want = '['
			}
			if len(stack) == 0 || stack[len(stack)-1] != want {
				return nil, fmt.Errorf("%w: json: unbalanced %q at %d", ErrBadBody, c, i)
			}
			stack = stack[:len(stack)-1]
			expectKey = false
		case c == ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			if expectKey {
				j := i
				for j < len(in) && isBareKeyByte(in[j]) {
					j++
				}
				if j == i {
					return nil, fmt.Errorf("%w: json: bad object key at %d", ErrBadBody, i)
				}
				out = append(out, '"')
				out = append(out, in[i:j]...)
				out = append(out, '"')
				changed = true
				i = j
				expectKey = false
				continue
			}
		}
		out = append(out, c)
		i++
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("%w: json: unterminated container", ErrBadBody)
	}
	if !changed {
		return in, nil
	}
	return out, nil
}

func isBareKeyByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '.' || c == '$' || c == '+'
}

// skipString returns the index just past the JSON string starting at in[i] == '"'.
func skipString(in []byte, i int) (int, error) {
	for j := i + 1; j < len(in); j++ {
		switch in[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: json: unterminated string at %d", ErrBadBody, i)
}

// ObjectKeyMap splits the fastjson form {{...key object...}:{...value...},...} of the map under
// field into raw key and value objects (standard JSON cannot have object keys).
func ObjectKeyMap(body []byte, field string) ([][2][]byte, error) {
	i := bytes.Index(body, []byte(`"`+field+`":`))
	if i < 0 {
		return nil, nil
	}
	p := i + len(field) + 3
	if p >= len(body) || body[p] != '{' {
		return nil, fmt.Errorf("%w: %s is not an object", ErrBadBody, field)
	}
	p++
	var out [][2][]byte
	for p < len(body) && body[p] != '}' {
		if body[p] == ',' {
			p++
			continue
		}
		k, n, err := RawObject(body[p:])
		if err != nil {
			return nil, err
		}
		p += n
		if p >= len(body) || body[p] != ':' {
			return nil, fmt.Errorf("%w: missing ':' in %s", ErrBadBody, field)
		}
		p++
		var v []byte
		if p < len(body) && body[p] == '{' {
			v, n, err = RawObject(body[p:])
			if err != nil {
				return nil, err
			}
		} else {
			n = bytes.IndexAny(body[p:], ",}")
			if n < 0 {
				return nil, fmt.Errorf("%w: unterminated value in %s", ErrBadBody, field)
			}
			v = bytes.TrimSpace(body[p : p+n])
		}
		p += n
		out = append(out, [2][]byte{k, v})
	}
	return out, nil
}

// RawObject returns the JSON object at the start of b and its length, matching braces outside
// strings.
func RawObject(b []byte) ([]byte, int, error) {
	if len(b) == 0 || b[0] != '{' {
		return nil, 0, fmt.Errorf("%w: expected an object", ErrBadBody)
	}
	depth, inStr, esc := 0, false, false
	for i, c := range b {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && c == '{':
			depth++
		case !inStr && c == '}':
			depth--
			if depth == 0 {
				return b[:i+1], i + 1, nil
			}
		}
	}
	return nil, 0, fmt.Errorf("%w: unterminated object", ErrBadBody)
}
