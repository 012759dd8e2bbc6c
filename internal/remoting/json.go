package remoting

import "github.com/skiffmq/skiff/internal/protocol"

// appendJSONHeader writes the header exactly as the Go client does: fixed field order, compact,
// remark always present, extFields always an object with string values (map keys sorted, then
// the list in its order).
func (c *Command) appendJSONHeader(dst []byte) []byte {
	h := protocol.Header{Code: c.Code, Language: c.Language, Version: c.Version, Opaque: c.Opaque, Flag: c.Flag, Remark: c.Remark}
	dst = protocol.AppendJSONHeaderStart(dst, &h)
	n := 0
	sep := func() {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
	}
	if len(c.ExtFields) > 0 {
		for _, k := range sortedKeys(c.ExtFields) {
			sep()
			dst = protocol.AppendJSONString(dst, k)
			dst = append(dst, ':')
			dst = protocol.AppendJSONString(dst, c.ExtFields[k])
		}
	}
	for _, f := range c.ext {
		sep()
		dst = protocol.AppendJSONString(dst, f.Key)
		dst = append(dst, ':')
		dst = protocol.AppendJSONString(dst, f.Value)
	}
	return append(dst, "}}"...)
}

// appendJSONString appends s as a JSON string (see protocol.AppendJSONString).
func appendJSONString(dst []byte, s string) []byte { return protocol.AppendJSONString(dst, s) }
