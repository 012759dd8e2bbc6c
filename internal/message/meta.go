package message

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Meta is what the commit log's dispatcher needs of a stored record (§3.2): the fixed fields,
// and the topic and the encoded properties as slices of the record, read without a property map
// and without copying. It is only valid while the record's bytes are.
type Meta struct {
	StoreSize       int32
	QueueID         int32
	QueueOffset     int64
	CommitLogOffset int64
	SysFlag         int32
	StoreTimestamp  int64
	Topic           []byte // aliases the record
	Props           []byte // aliases the record: "k\x01v\x02k\x01v"

	bodyAt, bodyLen int // where the body lies in the record (for Decode)
}

// DecodeMeta reads the record at the start of b: every length check of the record format is
// here (Decode builds on it, so both accept exactly the same records), and it never panics.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	size, err := RecordSize(b)
	if err != nil {
		return m, err
	}
	if size > len(b) {
		return m, fmt.Errorf("%w: totalSize %d, %d bytes available", ErrShort, size, len(b))
	}
	r := b[:size]
	be := binary.BigEndian
	m.StoreSize = int32(size)
	m.QueueID = int32(be.Uint32(r[12:]))
	m.QueueOffset = int64(be.Uint64(r[20:]))
	m.CommitLogOffset = int64(be.Uint64(r[28:]))
	m.SysFlag = int32(be.Uint32(r[36:]))
	bornLen, storeLen := 8, 8
	if m.SysFlag&FlagBornHostV6 != 0 {
		bornLen = 20
	}
	if m.SysFlag&FlagStoreHostV6 != 0 {
		storeLen = 20
	}
	if size < fixedSize-16+bornLen+storeLen {
		return m, fmt.Errorf("%w: totalSize %d too small for its hosts", ErrBadLength, size)
	}
	p := 48 + bornLen
	m.StoreTimestamp = int64(be.Uint64(r[p:]))
	p += 8 + storeLen
	bodyLen := int(int32(be.Uint32(r[p+12:])))
	p += 16
	if bodyLen < 0 || p+bodyLen+1 > size {
		return m, fmt.Errorf("%w: body length %d in a %d-byte record", ErrBadLength, bodyLen, size)
	}
	m.bodyAt, m.bodyLen = p, bodyLen
	p += bodyLen
	topicLen := int(r[p])
	p++
	if p+topicLen+2 > size {
		return m, fmt.Errorf("%w: topic length %d in a %d-byte record", ErrBadLength, topicLen, size)
	}
	m.Topic = r[p : p+topicLen : p+topicLen]
	p += topicLen
	propLen := int(be.Uint16(r[p:]))
	p += 2
	if p+propLen != size {
		return m, fmt.Errorf("%w: properties length %d leaves %d bytes of a %d-byte record", ErrBadLength, propLen, size-p-propLen, size)
	}
	m.Props = r[p : p+propLen : p+propLen]
	return m, nil
}

// Property returns property key as ParseProperties would keep it (the last of repeated keys;
// pairs with an empty key or value skipped), as a slice of the record.
func (m *Meta) Property(key string) ([]byte, bool) { return bytesProperty(m.Props, key) }

// nextProperty splits the first pair off encoded properties: ok is false for a pair
// ParseProperties skips (empty key or value, no separator).
func nextProperty(props []byte) (key, value, rest []byte, ok bool) {
	pair := props
	if i := bytes.IndexByte(props, propertySeparator); i >= 0 {
		pair, rest = props[:i], props[i+1:]
	}
	j := bytes.IndexByte(pair, nameValueSeparator)
	if j <= 0 || j == len(pair)-1 {
		return nil, nil, rest, false
	}
	return pair[:j], pair[j+1:], rest, true
}

// bytesProperty is the value of key in encoded properties, the last one when repeated.
func bytesProperty(props []byte, key string) (value []byte, found bool) {
	for len(props) > 0 {
		k, v, rest, ok := nextProperty(props)
		props = rest
		if ok && string(k) == key {
			value, found = v, true
		}
	}
	return value, found
}

// TagsCodeBytes is TagsCode of string(tags) without the conversion.
func TagsCodeBytes(tags []byte) int64 { return int64(HashBytes(0, tags)) }

// HashBytes continues Java's String.hashCode h over the UTF-16 code units of b read as UTF-8
// (invalid bytes as U+FFFD, as a Go string conversion reads them): HashBytes(HashBytes(0, a), b)
// is the hash of a+b.
func HashBytes(h int32, b []byte) int32 {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		h = hashRune(h, r)
	}
	return h
}

// HashString is HashBytes for a string.
func HashString(h int32, s string) int32 {
	for _, r := range s {
		h = hashRune(h, r)
	}
	return h
}

func hashRune(h int32, r rune) int32 {
	if r >= 0x10000 {
		r -= 0x10000
		h = 31*h + int32(0xD800+(r>>10))
		return 31*h + int32(0xDC00+(r&0x3FF))
	}
	return 31*h + int32(r)
}

// DispatchProperties returns TAGS, KEYS and UNIQ_KEY in one pass over the properties, each as
// Property would (nil when absent).
func (m *Meta) DispatchProperties() (tags, keys, uniq []byte) {
	for props := m.Props; len(props) > 0; {
		k, v, rest, ok := nextProperty(props)
		props = rest
		if !ok {
			continue
		}
		switch string(k) {
		case PropertyTags:
			tags = v
		case PropertyKeys:
			keys = v
		case PropertyUniqKey:
			uniq = v
		}
	}
	return tags, keys, uniq
}
