package client

import (
	"github.com/skiffmq/skiff/internal/auth"
	"github.com/skiffmq/skiff/internal/remoting"
)

// Credentials are the ACL credentials of RocketMQ's plain ACL (an account of the broker's
// plain_acl.yml). Every request is signed with SecretKey (HMAC-SHA1 over the request's fields and
// body); SecretKey itself never travels. SecurityToken is optional and sent as is.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

// IsEmpty reports whether no credentials are set.
func (c Credentials) IsEmpty() bool { return c.AccessKey == "" || c.SecretKey == "" }

// Signer returns the function that signs a request with c, or nil when c is empty. The SDK's
// producers, consumers and admin client call it on every request.
func (c Credentials) Signer() func(*remoting.Command) {
	if c.IsEmpty() {
		return nil
	}
	// One ACLKey per signer keeps reusable HMAC states; SignCommand reads the header in place
	// (list or map, no copy) and leaves an old Signature out, so a retried request re-signs.
	key := auth.NewACLKey(c.SecretKey)
	return func(req *remoting.Command) { key.SignCommand(req, c.AccessKey, c.SecurityToken) }
}
