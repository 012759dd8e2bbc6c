package message

import (
	"encoding/binary"
	"fmt"
)

// BatchEntry is one message of a SEND_BATCH_MESSAGE body (§3.6).
type BatchEntry struct {
	Flag       int32
	Body       []byte
	Properties map[string]string
}

// DecodeBatch splits a batch body into its entries. It never panics; bodies alias body.
//
//	offset size field
//	     0    4 totalSize of this entry (20 + B + 2 + P)
//	     4    4 magicCode (ignored)
//	     8    4 bodyCRC (ignored; the broker recomputes it)
//	    12    4 flag
//	    16    4 bodyLength B
//	    20    B body
//	  20+B    2 propertiesLength P
//	  22+B    P properties
func DecodeBatch(body []byte) ([]BatchEntry, error) {
	var out []BatchEntry
	be := binary.BigEndian
	for pos := 0; pos < len(body); {
		rest := body[pos:]
		if len(rest) < 22 {
			return nil, fmt.Errorf("%w: %d trailing bytes at %d", ErrBadBatch, len(rest), pos)
		}
		total := int(int32(be.Uint32(rest)))
		if total < 22 || total > len(rest) {
			return nil, fmt.Errorf("%w: entry size %d at %d with %d bytes left", ErrBadBatch, total, pos, len(rest))
		}
		e := rest[:total]
		bodyLen := int(int32(be.Uint32(e[16:])))
		if bodyLen < 0 || 20+bodyLen+2 > total {
			return nil, fmt.Errorf("%w: body length %d in a %d-byte entry at %d", ErrBadBatch, bodyLen, total, pos)
		}
		propLen := int(be.Uint16(e[20+bodyLen:]))
		if 22+bodyLen+propLen != total {
			return nil, fmt.Errorf("%w: properties length %d in a %d-byte entry at %d", ErrBadBatch, propLen, total, pos)
		}
		out = append(out, BatchEntry{
			Flag:       int32(be.Uint32(e[12:])),
			Body:       e[20 : 20+bodyLen : 20+bodyLen],
			Properties: ParseProperties(string(e[22+bodyLen:])),
		})
		pos += total
	}
	return out, nil
}

// EncodeBatch builds a batch body from entries (used by the SDK and tests).
func EncodeBatch(entries []BatchEntry) []byte {
	var out []byte
	be := binary.BigEndian
	for _, e := range entries {
		props := FormatProperties(e.Properties)
		total := 22 + len(e.Body) + len(props)
		var h [20]byte
		be.PutUint32(h[0:], uint32(total))
		be.PutUint32(h[12:], uint32(e.Flag))
		be.PutUint32(h[16:], uint32(len(e.Body)))
		out = append(out, h[:]...)
		out = append(out, e.Body...)
		out = be.AppendUint16(out, uint16(len(props)))
		out = append(out, props...)
	}
	return out
}
