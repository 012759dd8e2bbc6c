package broker

import (
	"fmt"
	"strconv"

	"github.com/skiffmq/skiff/internal/remoting"
)

// Request headers are read with protocol.Fields (or the typed headers of package protocol);
// these are the broker's response helpers.

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
