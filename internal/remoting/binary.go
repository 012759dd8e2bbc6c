package remoting

import "github.com/skiffmq/skiff/internal/protocol"

// appendBinaryHeader writes a ROCKETMQ header; map entries in sorted key order, then the list.
func (c *Command) appendBinaryHeader(dst []byte) ([]byte, error) {
	h := protocol.Header{Code: c.Code, Language: c.Language, Version: c.Version, Opaque: c.Opaque, Flag: c.Flag, Remark: c.Remark}
	dst, err := protocol.AppendBinaryHeaderStart(dst, &h)
	if err != nil {
		return dst, wrapEncode(err)
	}
	lenAt := len(dst) - 4
	if len(c.ExtFields) > 0 {
		for _, k := range sortedKeys(c.ExtFields) {
			if dst, err = protocol.AppendBinaryExt(dst, k, c.ExtFields[k]); err != nil {
				return dst, wrapEncode(err)
			}
		}
	}
	for _, f := range c.ext {
		if dst, err = protocol.AppendBinaryExt(dst, f.Key, f.Value); err != nil {
			return dst, wrapEncode(err)
		}
	}
	dst, err = protocol.FinishBinaryHeader(dst, lenAt)
	return dst, wrapEncode(err)
}
