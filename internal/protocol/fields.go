package protocol

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrHeaderField is wrapped by the typed header decoders for a required field that is missing or
// a value that does not parse; the message names the field and the value.
var ErrHeaderField = errors.New("protocol: bad request header")

// HeaderFieldError is the error of a typed header decode; it matches ErrHeaderField with
// errors.Is and its text (sent to clients as the remark) names the field and the value.
type HeaderFieldError struct{ msg string }

func (e *HeaderFieldError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrHeaderField) true.
func (e *HeaderFieldError) Is(target error) bool { return target == ErrHeaderField }

// fieldErr records the first problem of a typed header decode.
type fieldErr struct{ err error }

func (e *fieldErr) missing(key string) {
	if e.err == nil {
		e.err = &HeaderFieldError{fmt.Sprintf("the request header field %s is missing", key)}
	}
}

func (e *fieldErr) bad(key, v, why string) {
	if e.err == nil {
		e.err = &HeaderFieldError{fmt.Sprintf("the request header field %s = %q %s", key, v, why)}
	}
}

// i32 parses an int32 field (Java Integer.parseInt); an empty value is an error.
func (e *fieldErr) i32(key, v string) int32 {
	n, ok := atoi64(v)
	if !ok || n != int64(int32(n)) {
		e.bad(key, v, "is not a 32-bit integer")
		return 0
	}
	return int32(n)
}

// i64 parses an int64 field (Java Long.parseLong).
func (e *fieldErr) i64(key, v string) int64 {
	n, ok := atoi64(v)
	if !ok {
		e.bad(key, v, "is not a 64-bit integer")
		return 0
	}
	return n
}

// atoi64 is strconv.ParseInt(v, 10, 64) without the error allocation; it accepts a leading '+'
// or '-' like ParseInt.
func atoi64(v string) (int64, bool) {
	if len(v) == 0 || len(v) > 20 {
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	s := v
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
		if s == "" {
			return 0, false
		}
	}
	if len(s) > 18 { // may overflow: let strconv decide
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// ParseBool is Java's Boolean.parseBoolean: "true" in any case is true, anything else false.
func ParseBool(v string) bool {
	return len(v) == 4 && (v[0]|0x20) == 't' && (v[1]|0x20) == 'r' && (v[2]|0x20) == 'u' && (v[3]|0x20) == 'e'
}

// Lookup returns the value of key in ext (the last one when repeated).
func Lookup(ext []ExtField, key string) (string, bool) {
	for i := len(ext) - 1; i >= 0; i-- {
		if ext[i].Key == key {
			return ext[i].Value, true
		}
	}
	return "", false
}

// AppendInt appends k=decimal(v) to ext.
func AppendInt(ext []ExtField, k string, v int64) []ExtField {
	return append(ext, ExtField{k, strconv.FormatInt(v, 10)})
}
