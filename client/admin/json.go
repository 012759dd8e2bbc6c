package admin

import "github.com/skiffmq/skiff/client/internal/core"

// Unmarshal decodes a JSON body in the standard or the fastjson form (unquoted integer map keys).
func Unmarshal(body []byte, v any) error { return core.Unmarshal(body, v) }
