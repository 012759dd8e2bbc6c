package admin

import "encoding/json"

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
