package remoting

import (
	"encoding/binary"
	"fmt"
	"math"
)

// decodeBinaryHeader decodes a ROCKETMQ header (§1.5). Strings of length 0 decode as "" (Java
// reads them as null). Bytes after the ext section are ignored, as Java does.
func decodeBinaryHeader(b []byte) (*Command, error) {
	if len(b) < minBinaryHeader {
		return nil, fmt.Errorf("%w: rocketmq header of %d bytes < %d", ErrBadHeader, len(b), minBinaryHeader)
	}
	cmd := &Command{
		Code:     int32(int16(binary.BigEndian.Uint16(b[0:]))),
		Language: LanguageName(int(b[2])),
		Version:  int32(int16(binary.BigEndian.Uint16(b[3:]))),
		Opaque:   int32(binary.BigEndian.Uint32(b[5:])),
		Flag:     int32(binary.BigEndian.Uint32(b[9:])),
	}
	p := 13
	remarkLen := int64(int32(binary.BigEndian.Uint32(b[p:])))
	p += 4
	if remarkLen < 0 || remarkLen > int64(len(b)-p-4) {
		return nil, fmt.Errorf("%w: remark length %d runs past the header (%d bytes)", ErrBadHeader, remarkLen, len(b))
	}
	cmd.Remark = string(b[p : p+int(remarkLen)])
	p += int(remarkLen)
	extLen := int64(int32(binary.BigEndian.Uint32(b[p:])))
	p += 4
	if extLen < 0 || extLen > int64(len(b)-p) {
		return nil, fmt.Errorf("%w: ext length %d runs past the header (%d bytes)", ErrBadHeader, extLen, len(b))
	}
	ext := b[p : p+int(extLen)]
	cmd.ExtFields = map[string]string{}
	for q := 0; q < len(ext); {
		if len(ext)-q < 2 {
			return nil, fmt.Errorf("%w: truncated ext key length at %d", ErrBadHeader, q)
		}
		kl := int(int16(binary.BigEndian.Uint16(ext[q:])))
		q += 2
		if kl < 0 || kl > len(ext)-q {
			return nil, fmt.Errorf("%w: ext key length %d runs past the ext section", ErrBadHeader, kl)
		}
		k := string(ext[q : q+kl])
		q += kl
		if len(ext)-q < 4 {
			return nil, fmt.Errorf("%w: truncated ext value length for key %q", ErrBadHeader, k)
		}
		vl := int64(int32(binary.BigEndian.Uint32(ext[q:])))
		q += 4
		if vl < 0 || vl > int64(len(ext)-q) {
			return nil, fmt.Errorf("%w: ext value length %d for key %q runs past the ext section", ErrBadHeader, vl, k)
		}
		cmd.ExtFields[k] = string(ext[q : q+int(vl)])
		q += int(vl)
	}
	return cmd, nil
}

// appendBinaryHeader writes a ROCKETMQ header; extFields entries are written in sorted key order.
func (c *Command) appendBinaryHeader(dst []byte) ([]byte, error) {
	if len(c.Remark) > math.MaxInt32 {
		return dst, fmt.Errorf("%w: remark of %d bytes", ErrEncode, len(c.Remark))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(c.Code)))
	dst = append(dst, LanguageCode(c.Language))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(c.Version)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Opaque))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Flag))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for _, k := range sortedKeys(c.ExtFields) {
		v := c.ExtFields[k]
		if len(k) > math.MaxInt16 {
			return dst, fmt.Errorf("%w: ext key of %d bytes", ErrEncode, len(k))
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	extLen := len(dst) - lenAt - 4
	if extLen > math.MaxInt32 {
		return dst, fmt.Errorf("%w: ext section of %d bytes", ErrEncode, extLen)
	}
	binary.BigEndian.PutUint32(dst[lenAt:], uint32(extLen))
	return dst, nil
}
