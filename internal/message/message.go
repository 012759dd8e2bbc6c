package message

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"strings"
)

// Magic codes.
const (
	MagicCode      int32 = -626843481 // 0xDAA320A7: a V1 message record
	BlankMagicCode int32 = -875286124 // 0xCBD43194: end-of-segment filler
)

// sysFlag bits (§3.2).
const (
	FlagCompressed      int32 = 0x1
	FlagMultiTags       int32 = 0x2
	TransactionNotType  int32 = 0x0
	TransactionPrepared int32 = 0x4
	TransactionCommit   int32 = 0x8
	TransactionRollback int32 = 0xC
	TransactionMask     int32 = 0xC
	FlagBornHostV6      int32 = 0x10
	FlagStoreHostV6     int32 = 0x20
)

// Reserved property names (§3.3).
const (
	PropertyKeys                = "KEYS"
	PropertyTags                = "TAGS"
	PropertyWait                = "WAIT"
	PropertyDelayLevel          = "DELAY"
	PropertyUniqKey             = "UNIQ_KEY"
	PropertyRetryTopic          = "RETRY_TOPIC"
	PropertyRealTopic           = "REAL_TOPIC"
	PropertyRealQueueID         = "REAL_QID"
	PropertyTransactionPrepared = "TRAN_MSG"
	PropertyProducerGroup       = "PGROUP"
	PropertyOriginMessageID     = "ORIGIN_MESSAGE_ID"
	PropertyCluster             = "CLUSTER"
	PropertyMaxReconsumeTimes   = "MAX_RECONSUME_TIMES"
	PropertyReconsumeTime       = "RECONSUME_TIME"
	PropertyTransactionID       = "__transactionId__"
	PropertyCheckTimes          = "TRANSACTION_CHECK_TIMES"
	PropertyPreparedQueueOffset = "TRAN_PREPARED_QUEUE_OFFSET"
	PropertyShardingKey         = "SHARDING_KEY"
	PropertyMsgRegion           = "MSG_REGION"
	PropertyTraceSwitch         = "TRACE_ON"
	PropertyMinOffset           = "MIN_OFFSET"
	PropertyMaxOffset           = "MAX_OFFSET"
)

// Limits of the V1 layout.
const (
	MaxTopicLength      = 127
	MaxPropertiesLength = 32767
	// fixedSize is the record size without body, topic and properties, for IPv4 hosts.
	fixedSize = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2
)

// Sentinel errors of the decoders.
var (
	ErrShort     = errors.New("message: record is truncated")
	ErrBadMagic  = errors.New("message: bad magic code")
	ErrBadCRC    = errors.New("message: body CRC mismatch")
	ErrBlank     = errors.New("message: end-of-segment blank")
	ErrBadLength = errors.New("message: inconsistent lengths")
	ErrTooLarge  = errors.New("message: field too large")
	ErrBadMsgID  = errors.New("message: bad offset message id")
	ErrBadBatch  = errors.New("message: bad batch body")
	crcTable     = crc32.IEEETable
)

// Message is one stored message.
type Message struct {
	Topic                     string
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	CommitLogOffset           int64 // physical offset of the record's first byte
	SysFlag                   int32
	BornTimestamp             int64 // ms
	BornHost                  netip.AddrPort
	StoreTimestamp            int64 // ms
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	BodyCRC                   int32 // set by Decode; Encode computes it
	Body                      []byte
	Properties                map[string]string
	// PropertiesText is the properties already encoded ("k\x01v\x02k\x01v"), used by the
	// encoders when Properties is nil: the broker stores a producer's property string without
	// parsing it into a map and formatting it again. Properties, when not nil, wins.
	PropertiesText string
	StoreSize      int32 // totalSize, set by Decode and EncodeTo
}

// EncodedProperties returns the properties as they are stored: FormatProperties(Properties), or
// PropertiesText when Properties is nil.
func (m *Message) EncodedProperties() string {
	if m.Properties == nil {
		return m.PropertiesText
	}
	return FormatProperties(m.Properties)
}

// Property returns a property value ("" when absent), from Properties or PropertiesText.
func (m *Message) Property(k string) string {
	if m.Properties == nil && m.PropertiesText != "" {
		v, _ := TextProperty(m.PropertiesText, k)
		return v
	}
	return m.Properties[k]
}

// SetProperty sets a property.
func (m *Message) SetProperty(k, v string) {
	if m.Properties == nil {
		m.Properties = map[string]string{}
	}
	m.Properties[k] = v
}

// Tags returns the TAGS property.
func (m *Message) Tags() string { return m.Properties[PropertyTags] }

// Keys returns the space-separated KEYS entries (empty ones skipped).
func (m *Message) Keys() []string { return strings.Fields(m.Properties[PropertyKeys]) }

// UniqKey returns the client-generated unique key.
func (m *Message) UniqKey() string { return m.Properties[PropertyUniqKey] }

func hostLen(ap netip.AddrPort) int {
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		return 20
	}
	return 8
}

// sizeWith returns the record size given the encoded properties.
func (m *Message) sizeWith(props string) (int, error) {
	if len(m.Topic) > MaxTopicLength {
		return 0, fmt.Errorf("%w: topic %q is %d bytes, the limit is %d", ErrTooLarge, m.Topic, len(m.Topic), MaxTopicLength)
	}
	if len(props) > MaxPropertiesLength {
		return 0, fmt.Errorf("%w: properties are %d bytes, the limit is %d", ErrTooLarge, len(props), MaxPropertiesLength)
	}
	return fixedSize - 16 + hostLen(m.BornHost) + hostLen(m.StoreHost) + len(m.Body) + len(m.Topic) + len(props), nil
}

// SizeWithProperties returns totalSize for already-encoded properties, checking the V1 limits.
func (m *Message) SizeWithProperties(props string) (int, error) { return m.sizeWith(props) }

// EncodedSize returns totalSize of the record.
func (m *Message) EncodedSize() (int, error) { return m.sizeWith(m.EncodedProperties()) }

// EncodeTo writes the record into b, which must hold EncodedSize bytes, computing the body CRC
// and the host flags. It returns the number of bytes written.
func (m *Message) EncodeTo(b []byte) (int, error) {
	return m.EncodeWithProperties(b, m.EncodedProperties())
}

// EncodeWithProperties is EncodeTo with the properties already encoded (the store encodes them
// once, outside its append lock).
func (m *Message) EncodeWithProperties(b []byte, props string) (int, error) {
	size, err := m.sizeWith(props)
	if err != nil {
		return 0, err
	}
	if len(b) < size {
		return 0, fmt.Errorf("%w: buffer of %d bytes for a %d-byte record", ErrShort, len(b), size)
	}
	sys := m.SysFlag &^ (FlagBornHostV6 | FlagStoreHostV6)
	if hostLen(m.BornHost) == 20 {
		sys |= FlagBornHostV6
	}
	if hostLen(m.StoreHost) == 20 {
		sys |= FlagStoreHostV6
	}
	m.SysFlag = sys
	m.BodyCRC = int32(crc32.Checksum(m.Body, crcTable) & 0x7FFFFFFF)
	m.StoreSize = int32(size)
	be := binary.BigEndian
	be.PutUint32(b[0:], uint32(size))
	magic := MagicCode
	be.PutUint32(b[4:], uint32(magic))
	be.PutUint32(b[8:], uint32(m.BodyCRC))
	be.PutUint32(b[12:], uint32(m.QueueID))
	be.PutUint32(b[16:], uint32(m.Flag))
	be.PutUint64(b[20:], uint64(m.QueueOffset))
	be.PutUint64(b[28:], uint64(m.CommitLogOffset))
	be.PutUint32(b[36:], uint32(sys))
	be.PutUint64(b[40:], uint64(m.BornTimestamp))
	p := 48 + putHost(b[48:], m.BornHost)
	be.PutUint64(b[p:], uint64(m.StoreTimestamp))
	p += 8
	p += putHost(b[p:], m.StoreHost)
	be.PutUint32(b[p:], uint32(m.ReconsumeTimes))
	be.PutUint64(b[p+4:], uint64(m.PreparedTransactionOffset))
	be.PutUint32(b[p+12:], uint32(len(m.Body)))
	p += 16
	p += copy(b[p:], m.Body)
	b[p] = byte(len(m.Topic))
	p++
	p += copy(b[p:], m.Topic)
	be.PutUint16(b[p:], uint16(len(props)))
	p += 2
	p += copy(b[p:], props)
	return p, nil
}

func putHost(b []byte, ap netip.AddrPort) int {
	a := ap.Addr().Unmap()
	if a.Is6() {
		s := a.As16()
		copy(b, s[:])
		binary.BigEndian.PutUint32(b[16:], uint32(ap.Port()))
		return 20
	}
	var s [4]byte // the zero Addr encodes as 0.0.0.0
	if a.IsValid() {
		s = a.As4()
	}
	copy(b, s[:])
	binary.BigEndian.PutUint32(b[4:], uint32(ap.Port()))
	return 8
}

// Encode appends the record of m to dst.
func Encode(dst []byte, m *Message) ([]byte, error) {
	props := m.EncodedProperties()
	size, err := m.sizeWith(props)
	if err != nil {
		return dst, err
	}
	n := len(dst)
	dst = append(dst, make([]byte, size)...)
	if _, err := m.EncodeWithProperties(dst[n:], props); err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// RecordSize reads the totalSize and magic code at the start of b. It reports ErrBlank for an
// end-of-segment blank (size is then the blank's length), ErrBadMagic for anything else that is
// not a record, and ErrShort when fewer than 8 bytes are given.
func RecordSize(b []byte) (int, error) {
	if len(b) < 8 {
		return 0, ErrShort
	}
	size := int32(binary.BigEndian.Uint32(b))
	magic := int32(binary.BigEndian.Uint32(b[4:]))
	switch magic {
	case MagicCode:
		if size < fixedSize {
			return 0, fmt.Errorf("%w: totalSize %d", ErrBadLength, size)
		}
		return int(size), nil
	case BlankMagicCode:
		return int(size), ErrBlank
	default:
		return 0, fmt.Errorf("%w: 0x%08X", ErrBadMagic, uint32(magic))
	}
}

// Decode decodes the record at the start of b. With checkCRC the body CRC is verified. It never
// panics: truncated, inconsistent or corrupt input yields an error. Body aliases b.
func Decode(b []byte, checkCRC bool) (*Message, error) { return decode(b, checkCRC, "") }

// decode is Decode reusing topic as the Topic string when the record's topic bytes equal it.
func decode(b []byte, checkCRC bool, topic string) (*Message, error) {
	m := &Message{Topic: topic}
	props, err := DecodeFields(b, m)
	if err != nil {
		return nil, err
	}
	m.Properties = ParseProperties(string(props))
	if checkCRC {
		if crc := int32(crc32.Checksum(m.Body, crcTable) & 0x7FFFFFFF); crc != m.BodyCRC {
			return nil, fmt.Errorf("%w: stored 0x%08X, computed 0x%08X at offset %d", ErrBadCRC, uint32(m.BodyCRC), uint32(crc), m.CommitLogOffset)
		}
	}
	return m, nil
}

// DecodeFields is Decode without the property map and without the CRC check (the SDK's pull
// path): it sets every field of m but Properties and PropertiesText, and returns the encoded
// properties as a slice of b. m.Topic is kept when it equals the record's topic (records of one
// pull share one string); Body aliases b. It accepts exactly the records Decode accepts (both
// build on DecodeMeta) and never panics.
func DecodeFields(b []byte, m *Message) (props []byte, err error) {
	meta, err := DecodeMeta(b)
	if err != nil {
		return nil, err
	}
	r := b[:meta.StoreSize]
	be := binary.BigEndian
	topic := m.Topic
	*m = Message{StoreSize: meta.StoreSize, QueueID: meta.QueueID, QueueOffset: meta.QueueOffset,
		CommitLogOffset: meta.CommitLogOffset, SysFlag: meta.SysFlag, StoreTimestamp: meta.StoreTimestamp}
	m.BodyCRC = int32(be.Uint32(r[8:]))
	m.Flag = int32(be.Uint32(r[16:]))
	m.BornTimestamp = int64(be.Uint64(r[40:]))
	bornLen, storeLen := 8, 8
	if m.SysFlag&FlagBornHostV6 != 0 {
		bornLen = 20
	}
	if m.SysFlag&FlagStoreHostV6 != 0 {
		storeLen = 20
	}
	p := 48
	m.BornHost = readHost(r[p:], bornLen)
	p += bornLen + 8
	m.StoreHost = readHost(r[p:], storeLen)
	p += storeLen
	m.ReconsumeTimes = int32(be.Uint32(r[p:]))
	m.PreparedTransactionOffset = int64(be.Uint64(r[p+4:]))
	m.Body = r[meta.bodyAt : meta.bodyAt+meta.bodyLen : meta.bodyAt+meta.bodyLen]
	if string(meta.Topic) == topic {
		m.Topic = topic
	} else {
		m.Topic = string(meta.Topic)
	}
	return meta.Props, nil
}

func readHost(b []byte, n int) netip.AddrPort {
	if n == 20 {
		var a [16]byte
		copy(a[:], b[:16])
		return netip.AddrPortFrom(netip.AddrFrom16(a), uint16(binary.BigEndian.Uint32(b[16:])))
	}
	var a [4]byte
	copy(a[:], b[:4])
	return netip.AddrPortFrom(netip.AddrFrom4(a), uint16(binary.BigEndian.Uint32(b[4:])))
}

// Verify checks that b is exactly one whole record whose lengths are consistent and whose body
// CRC matches, without allocating (the store's read path). It never panics.
func Verify(b []byte) error {
	size, err := RecordSize(b)
	if err != nil {
		return err
	}
	if size != len(b) {
		return fmt.Errorf("%w: totalSize %d, %d bytes given", ErrBadLength, size, len(b))
	}
	be := binary.BigEndian
	sys := int32(be.Uint32(b[36:]))
	p := 48 + 8 + 8 + 8
	if sys&FlagBornHostV6 != 0 {
		p += 12
	}
	if sys&FlagStoreHostV6 != 0 {
		p += 12
	}
	if p+16 > size {
		return fmt.Errorf("%w: totalSize %d too small for its hosts", ErrBadLength, size)
	}
	bodyLen := int(int32(be.Uint32(b[p+12:])))
	p += 16
	if bodyLen < 0 || p+bodyLen+1 > size {
		return fmt.Errorf("%w: body length %d in a %d-byte record", ErrBadLength, bodyLen, size)
	}
	body := b[p : p+bodyLen]
	p += bodyLen
	topicLen := int(b[p])
	p++
	if p+topicLen+2 > size {
		return fmt.Errorf("%w: topic length %d in a %d-byte record", ErrBadLength, topicLen, size)
	}
	p += topicLen
	if p+2+int(be.Uint16(b[p:])) != size {
		return fmt.Errorf("%w: properties length in a %d-byte record", ErrBadLength, size)
	}
	stored := int32(be.Uint32(b[8:]))
	if crc := int32(crc32.Checksum(body, crcTable) & 0x7FFFFFFF); crc != stored {
		return fmt.Errorf("%w: stored 0x%08X, computed 0x%08X at offset %d", ErrBadCRC, uint32(stored), uint32(crc), int64(be.Uint64(b[28:])))
	}
	return nil
}

// DecodeAll decodes concatenated records (pull and query bodies), without CRC checks, as clients do.
// Records of one topic share one Topic string.
func DecodeAll(b []byte) ([]*Message, error) {
	var out []*Message
	prevTopic := ""
	for len(b) > 0 {
		m, err := decode(b, false, prevTopic)
		if err != nil {
			return out, err
		}
		prevTopic = m.Topic
		out = append(out, m)
		b = b[m.StoreSize:]
	}
	return out, nil
}

// RecordProperty returns property key of the whole record b without decoding the rest (no map,
// no allocation): the pull path checks TAGS this way. ok is false when b is not a record with
// consistent lengths or the property is absent.
func RecordProperty(b []byte, key string) (value string, ok bool) {
	size, err := RecordSize(b)
	if err != nil || size > len(b) || size < fixedSize-16+16 {
		return "", false
	}
	be := binary.BigEndian
	sys := int32(be.Uint32(b[36:]))
	p := 48 + 8 + 8 + 8
	if sys&FlagBornHostV6 != 0 {
		p += 12
	}
	if sys&FlagStoreHostV6 != 0 {
		p += 12
	}
	if p+16 > size {
		return "", false
	}
	bodyLen := int(int32(be.Uint32(b[p+12:])))
	p += 16
	if bodyLen < 0 || p+bodyLen+1 > size {
		return "", false
	}
	p += bodyLen
	topicLen := int(b[p])
	p++
	if p+topicLen+2 > size {
		return "", false
	}
	p += topicLen
	propLen := int(be.Uint16(b[p:]))
	p += 2
	if p+propLen != size {
		return "", false
	}
	return textProperty(b[p:p+propLen], key)
}

// TextProperty returns property key of an encoded property string (the last one when repeated,
// as ParseProperties keeps it), without a map.
func TextProperty(props, key string) (value string, ok bool) {
	for len(props) > 0 {
		pair := props
		if i := strings.IndexByte(props, propertySeparator); i >= 0 {
			pair, props = props[:i], props[i+1:]
		} else {
			props = ""
		}
		j := strings.IndexByte(pair, nameValueSeparator)
		if j <= 0 || j == len(pair)-1 {
			continue
		}
		if pair[:j] == key {
			value, ok = pair[j+1:], true
		}
	}
	return value, ok
}

func textProperty(props []byte, key string) (value string, ok bool) {
	v, ok := bytesProperty(props, key)
	return string(v), ok
}
