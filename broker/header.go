package broker

import (
	"fmt"
	"strconv"

	"github.com/skiffmq/skiff/internal/remoting"
)

// header reads typed request fields out of extFields. The first problem (a required field that is
// missing, or a value that does not parse) is kept in err, naming the field and the value, so a
// handler reads every field and checks once.
type header struct {
	m   map[string]string
	err error
}

func newHeader(req *remoting.Command) *header { return &header{m: req.ExtFields} }

func (h *header) fail(key, v, why string) {
	if h.err == nil {
		if v == "" && why == "" {
			h.err = fmt.Errorf("the request header field %s is missing", key)
		} else {
			h.err = fmt.Errorf("the request header field %s = %q %s", key, v, why)
		}
	}
}

func (h *header) raw(key string, required bool) (string, bool) {
	v, ok := h.m[key]
	if !ok && required {
		h.fail(key, "", "")
	}
	return v, ok
}

func (h *header) str(key string, required bool) string {
	v, _ := h.raw(key, required)
	return v
}

func (h *header) i32(key string, required bool) int32 {
	v, ok := h.raw(key, required)
	if !ok || v == "" {
		if ok && required {
			h.fail(key, v, "is not an integer")
		}
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		h.fail(key, v, "is not a 32-bit integer")
	}
	return int32(n)
}

func (h *header) i64(key string, required bool) int64 {
	v, ok := h.raw(key, required)
	if !ok || v == "" {
		if ok && required {
			h.fail(key, v, "is not an integer")
		}
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		h.fail(key, v, "is not a 64-bit integer")
	}
	return n
}

// boolean parses like Java's Boolean.parseBoolean: only "true" (any case) is true.
func (h *header) boolean(key string) bool {
	v := h.m[key]
	return len(v) == 4 && (v[0]|0x20) == 't' && (v[1]|0x20) == 'r' && (v[2]|0x20) == 'u' && (v[3]|0x20) == 'e'
}

// has reports whether the field is present.
func (h *header) has(key string) bool { _, ok := h.m[key]; return ok }

func i64s(v int64) string { return strconv.FormatInt(v, 10) }
func i32s(v int32) string { return strconv.FormatInt(int64(v), 10) }

// respond builds a response with extFields.
func respond(req *remoting.Command, code int32, remark string, ext map[string]string, body []byte) *remoting.Command {
	resp := remoting.NewResponse(req, code, remark)
	if ext != nil {
		resp.ExtFields = ext
	}
	resp.Body = body
	return resp
}

func errResp(req *remoting.Command, code int32, format string, args ...any) *remoting.Command {
	return remoting.NewResponse(req, code, fmt.Sprintf(format, args...))
}
