// Package acl is Skiff's RocketMQ 4.x compatible access control ("plain ACL").
//
// It reads RocketMQ's plain_acl.yml unchanged:
//
//	globalWhiteRemoteAddresses:      # addresses that need no signature at all
//	  - 10.10.103.*
//	  - 192.168.0.*
//	accounts:
//	  - accessKey: RocketMQ
//	    secretKey: 12345678
//	    whiteRemoteAddress:           # this account needs no signature from here
//	    admin: false                  # admin-only request codes (topic/group/config updates...)
//	    defaultTopicPerm: DENY        # DENY | PUB | SUB | PUB|SUB; absent = DENY
//	    defaultGroupPerm: SUB
//	    topicPerms:
//	      - topicA=DENY
//	      - topicB=PUB|SUB
//	    groupPerms:
//	      - groupA=DENY
//	      - groupB=PUB|SUB
//
// Address patterns, as RocketMQ accepts them: an exact IPv4 or IPv6 address; "*" (or "*.*.*.*")
// for every address; IPv4 with one segment "*" or a range "a-b" followed only by "*" segments
// ("192.168.*.*", "10.10.1-20.*"); a list in the last segment ("192.168.0.{1,2,3}"). Skiff also
// accepts CIDR prefixes ("10.0.0.0/8", "fd00::/8").
//
// # Decision (RocketMQ's PlainAccessValidator order)
//
//  1. A request from a global white address is allowed, signature or not.
//  2. Otherwise AccessKey must name an account; from that account's white address the request is
//     allowed without signature.
//  3. Otherwise the Signature must verify (package auth, constant time).
//  4. An admin-only code needs admin: true.
//  5. Each resource the code touches (see Resources) needs its permission: the account's entry for
//     that topic or group, else its default. Groups are resources "%RETRY%<group>", as in RocketMQ.
//     An admin account with no topic or group entries passes every resource check.
//
// Resources per request code follow RocketMQ 4.9's PlainAccessValidator, plus what it forgets:
// SEND_BATCH_MESSAGE and the reply sends need PUB like single sends; offset queries need SUB on the
// topic and group; lock/unlock need SUB on the group and the topics of the queues.
//
// # Shape
//
// Table is immutable once built. Authorizer holds the current Table behind an atomic pointer and
// Reload swaps in a new one when the file's content changed; a file that does not parse keeps the
// old table and returns the error. The package starts no goroutines: the daemon's loop calls Reload.
package acl
