package core

import (
	"fmt"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/protocol"
)

// Unmarshal decodes a JSON body in the standard or the fastjson form (unquoted integer map keys)
// with the protocol's one fastjson reader (protocol.UnmarshalFastJSON).
func Unmarshal(body []byte, v any) error { return protocol.UnmarshalFastJSON(body, v) }

// ObjectKeyMap is protocol.ObjectKeyMap with errors that wrap client.ErrBadResponse.
func ObjectKeyMap(body []byte, field string) ([][2][]byte, error) {
	pairs, err := protocol.ObjectKeyMap(body, field)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", client.ErrBadResponse, err)
	}
	return pairs, nil
}
