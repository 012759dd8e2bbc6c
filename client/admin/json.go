package admin

import "github.com/skiffmq/skiff/client/internal/core"

// Unmarshal decodes a JSON body that may use fastjson's unquoted integer map keys.
func Unmarshal(body []byte, v any) error { return core.Unmarshal(body, v) }

// NormalizeJSON returns body with every unquoted object key that starts like a number
// ({0:"a",-1:"b"}) wrapped in quotes ({"0":"a","-1":"b"}); see core.NormalizeJSON.
func NormalizeJSON(body []byte) []byte { return core.NormalizeJSON(body) }
