package remoting

import (
	"encoding/binary"
	"fmt"
	"io"
	"unsafe"

	"github.com/skiffmq/skiff/internal/protocol"
)

const (
	// DefaultMaxFrameSize is the default limit on a frame's length field (16 MiB, like Java's
	// com.rocketmq.remoting.frameMaxLength).
	DefaultMaxFrameSize = 16 << 20
	// MinFrameLength is the smallest valid length field: the serialization/header-length int.
	MinFrameLength = 4
	// PrefixSize is the number of bytes CheckPrefix needs: the length field plus the
	// serialization/header-length int.
	PrefixSize = 8
	// maxHeaderLength is the largest header length the 24-bit field can carry.
	maxHeaderLength = 1<<24 - 1
	// minJSONHeader is the shortest JSON header ("{}").
	minJSONHeader = 2
	// minBinaryHeader is the fixed part of a ROCKETMQ header.
	minBinaryHeader = protocol.MinBinaryHeader
)

// CheckLength validates a frame's length field (the first 4 bytes of a frame) against the
// minimum and maxFrame (DefaultMaxFrameSize when maxFrame <= 0). Servers call it as soon as 4
// bytes have arrived, before waiting for the rest of the frame.
func CheckLength(length int64, maxFrame int) error {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	if length < MinFrameLength {
		return fmt.Errorf("%w: length %d < %d", ErrFrameTooShort, length, MinFrameLength)
	}
	if length > int64(maxFrame) {
		return fmt.Errorf("%w: length %d > max %d", ErrFrameTooLarge, length, maxFrame)
	}
	return nil
}

// CheckPrefix validates the first PrefixSize bytes of a frame (length field, serialization type
// and header length) and returns the number of bytes that follow the length field. It lets a
// server reject a garbage frame before buffering it.
func CheckPrefix(prefix []byte, maxFrame int) (int, error) {
	if len(prefix) < PrefixSize {
		return 0, fmt.Errorf("%w: prefix of %d bytes", ErrFrameTooShort, len(prefix))
	}
	length := int64(int32(binary.BigEndian.Uint32(prefix)))
	if err := CheckLength(length, maxFrame); err != nil {
		return 0, err
	}
	if _, _, err := checkSerialization(binary.BigEndian.Uint32(prefix[4:]), int(length)); err != nil {
		return 0, err
	}
	return int(length), nil
}

// checkSerialization splits the second int of a frame and checks it against the frame length
// (the number of bytes after the length field).
func checkSerialization(v uint32, length int) (byte, int, error) {
	serType := byte(v >> 24)
	hdrLen := int(v & 0xFFFFFF)
	var minHdr int
	switch serType {
	case SerializeJSON:
		minHdr = minJSONHeader
	case SerializeRocketMQ:
		minHdr = minBinaryHeader
	default:
		return 0, 0, fmt.Errorf("%w: %d", ErrUnknownSerializeType, serType)
	}
	if hdrLen > length-4 {
		return 0, 0, fmt.Errorf("%w: header length %d > frame length %d - 4", ErrBadHeaderLength, hdrLen, length)
	}
	if hdrLen < minHdr {
		return 0, 0, fmt.Errorf("%w: header length %d < %d for serialize type %d", ErrBadHeaderLength, hdrLen, minHdr, serType)
	}
	return serType, hdrLen, nil
}

// DecodeFrame decodes one frame without its length field: the serialization/header-length int,
// the header and the body, with the custom header in the ExtFields map. The returned strings and
// Body alias frame (JSON escapes are undone in place inside it): the caller must neither modify
// nor reuse frame afterwards.
func DecodeFrame(frame []byte) (*Command, error) {
	cmd, err := DecodeFrameRaw(frame)
	if err != nil {
		return nil, err
	}
	return cmd.MaterializeExt(), nil
}

// DecodeFrameRaw is DecodeFrame keeping the custom header as a list (ExtFields nil): no map and
// no allocation per field. See Command.
func DecodeFrameRaw(frame []byte) (*Command, error) {
	return decodeFrameInto(frame, new(DecodeBuffer))
}

// DecodeBuffer is a decoded command with room for 16 custom header fields (a send carries 12
// to 14), so that decoding a frame costs at most one allocation; DecodeFrameView reuses one.
type DecodeBuffer struct {
	cmd Command
	ext [16]ExtField
}

// DecodeFrameView is DecodeFrameRaw into d, for a frame the caller lends only for a while (the
// remoting server decodes an inline request straight from its connection's read buffer): the
// command is d's, and it and everything it holds (strings, Body, the header list) are valid
// only until the caller reuses frame or d. The command reports Borrowed; Own makes a copy that
// may be kept. Body is capped at the frame's end, so an append to it never writes past the frame.
func DecodeFrameView(frame []byte, d *DecodeBuffer) (*Command, error) {
	frame = frame[:len(frame):len(frame)]
	cmd, err := decodeFrameInto(frame, d)
	if err != nil {
		return nil, err
	}
	cmd.view = frame
	return cmd, nil
}

func decodeFrameInto(frame []byte, d *DecodeBuffer) (*Command, error) {
	if len(frame) < MinFrameLength {
		return nil, fmt.Errorf("%w: %d bytes", ErrFrameTooShort, len(frame))
	}
	serType, hdrLen, err := checkSerialization(binary.BigEndian.Uint32(frame), len(frame))
	if err != nil {
		return nil, err
	}
	header := frame[4 : 4+hdrLen]
	h := protocol.Header{Ext: d.ext[:0]}
	if serType == SerializeJSON {
		err = protocol.DecodeJSONHeader(header, &h)
	} else {
		err = protocol.DecodeBinaryHeader(header, &h)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadHeader, err)
	}
	cmd := &d.cmd
	*cmd = Command{Code: h.Code, Language: h.Language, Version: h.Version, Opaque: h.Opaque, Flag: h.Flag,
		Remark: h.Remark, ext: h.Ext, SerializeType: serType}
	if body := frame[4+hdrLen:]; len(body) > 0 {
		cmd.Body = body
	}
	return cmd, nil
}

// Borrowed reports whether c is a view of a lent frame (DecodeFrameView): valid only until the
// lender reuses it, so whoever keeps c or anything it holds past that must keep Own() instead.
func (c *Command) Borrowed() bool { return c.view != nil }

// Own returns a command that may be kept: c itself unless it is Borrowed, else a copy in a
// DecodeBuffer of its own whose strings, header entries and Body that pointed into the lent frame
// point into a fresh copy of that frame (two allocations, as DecodeFrameRaw of a copied frame;
// the header is not decoded again). Values set on c from elsewhere are kept as they are.
func (c *Command) Own() *Command {
	if c.view == nil {
		return c
	}
	from := c.view
	to := append([]byte(nil), from...)
	d := new(DecodeBuffer)
	cmd := &d.cmd
	*cmd = *c
	cmd.view = nil
	cmd.Language = rebaseString(c.Language, from, to)
	cmd.Remark = rebaseString(c.Remark, from, to)
	cmd.Body = rebaseBytes(c.Body, from, to)
	if c.ext != nil {
		cmd.ext = append(d.ext[:0], c.ext...)
		for i := range cmd.ext {
			cmd.ext[i].Key = rebaseString(cmd.ext[i].Key, from, to)
			cmd.ext[i].Value = rebaseString(cmd.ext[i].Value, from, to)
		}
	}
	if c.ExtFields != nil {
		cmd.ExtFields = make(map[string]string, len(c.ExtFields))
		for k, v := range c.ExtFields {
			cmd.ExtFields[rebaseString(k, from, to)] = rebaseString(v, from, to)
		}
	}
	return cmd
}

// offsetIn is the offset of p's n bytes inside from, or -1 when they do not lie inside it.
func offsetIn(p unsafe.Pointer, n int, from []byte) int {
	if n == 0 || len(from) == 0 {
		return -1
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(from)))
	at := uintptr(p)
	if at < base || at-base > uintptr(len(from)) || uintptr(n) > uintptr(len(from))-(at-base) {
		return -1
	}
	return int(at - base)
}

// rebaseString returns s moved from from to to (same offset) when s lies inside from.
func rebaseString(s string, from, to []byte) string {
	off := offsetIn(unsafe.Pointer(unsafe.StringData(s)), len(s), from)
	if off < 0 {
		return s
	}
	return protocol.AliasString(to[off : off+len(s)])
}

// rebaseBytes is rebaseString for a byte slice (capped at its end, as DecodeFrameView's Body).
func rebaseBytes(b []byte, from, to []byte) []byte {
	off := offsetIn(unsafe.Pointer(unsafe.SliceData(b)), len(b), from)
	if off < 0 {
		return b
	}
	return to[off : off+len(b) : off+len(b)]
}

// wrapEncode turns a protocol encoding error into an ErrEncode one.
func wrapEncode(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrEncode, err)
}

// Encode returns the whole frame, including the 4-byte length, in c.SerializeType.
func (c *Command) Encode() ([]byte, error) {
	return c.AppendFrame(nil)
}

// AppendFrame appends the whole frame to dst.
func (c *Command) AppendFrame(dst []byte) ([]byte, error) {
	if !fitsInt16(c.Code) {
		return dst, fmt.Errorf("%w: code %d outside int16", ErrEncode, c.Code)
	}
	if !fitsInt16(c.Version) {
		return dst, fmt.Errorf("%w: version %d outside int16", ErrEncode, c.Version)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var err error
	switch c.SerializeType {
	case SerializeJSON:
		dst = c.appendJSONHeader(dst)
	case SerializeRocketMQ:
		dst, err = c.appendBinaryHeader(dst)
	default:
		err = fmt.Errorf("%w: serialize type %d", ErrEncode, c.SerializeType)
	}
	if err != nil {
		return dst[:start], err
	}
	hdrLen := len(dst) - start - 8
	if hdrLen > maxHeaderLength {
		return dst[:start], fmt.Errorf("%w: header of %d bytes", ErrEncode, hdrLen)
	}
	dst = append(dst, c.Body...)
	total := len(dst) - start - 4
	if int64(total) > 1<<31-1 {
		return dst[:start], fmt.Errorf("%w: frame of %d bytes", ErrEncode, total)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(total))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(c.SerializeType)<<24|uint32(hdrLen))
	return dst, nil
}

// ReadCommand reads one whole frame from r and decodes it (ExtFields filled). maxFrame <= 0 means DefaultMaxFrameSize.
// A bad length is reported before the rest of the frame is read.
func ReadCommand(r io.Reader, maxFrame int) (*Command, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, err
	}
	length := int64(int32(binary.BigEndian.Uint32(lb[:])))
	if err := CheckLength(length, maxFrame); err != nil {
		return nil, err
	}
	frame := make([]byte, length)
	if _, err := io.ReadFull(r, frame); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return DecodeFrame(frame)
}
