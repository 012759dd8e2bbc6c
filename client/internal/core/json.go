package core

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/skiffmq/skiff/client"
)

// Unmarshal decodes a JSON body that may use fastjson's unquoted integer map keys.
func Unmarshal(body []byte, v any) error {
	return json.Unmarshal(NormalizeJSON(body), v)
}

// NormalizeJSON returns body with every unquoted object key that starts like a number
// ({0:"a",-1:"b"}) wrapped in quotes ({"0":"a","-1":"b"}). The contents of strings are never
// changed, and standard JSON comes back unchanged. It never fails: input that is not JSON is
// passed through for the JSON decoder to reject.
func NormalizeJSON(body []byte) []byte {
	out := make([]byte, 0, len(body)+16)
	var stack []byte   // open containers: '{' or '['
	expectKey := false // the next token is an object key
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(body) && body[j] != '"' {
				if body[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(body)) // include the closing quote
			out = append(out, body[i:j]...)
			i = j
			expectKey = false
			continue
		case c == '{':
			stack = append(stack, c)
			expectKey = true
		case c == '[':
			stack = append(stack, c)
			expectKey = false
		case c == '}' || c == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
		case c == ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			// whitespace keeps the expectation
		case expectKey && (c == '-' || c >= '0' && c <= '9'):
			j := i + 1
			for j < len(body) && isNumberByte(body[j]) {
				j++
			}
			out = append(out, '"')
			out = append(out, body[i:j]...)
			out = append(out, '"')
			i = j
			expectKey = false
			continue
		default:
			expectKey = false
		}
		out = append(out, c)
		i++
	}
	return out
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
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
		return nil, fmt.Errorf("%w: %s is not an object", client.ErrBadResponse, field)
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
			return nil, fmt.Errorf("%w: missing ':' in %s", client.ErrBadResponse, field)
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
				return nil, fmt.Errorf("%w: unterminated value in %s", client.ErrBadResponse, field)
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
		return nil, 0, fmt.Errorf("%w: expected an object", client.ErrBadResponse)
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
	return nil, 0, fmt.Errorf("%w: unterminated object", client.ErrBadResponse)
}
