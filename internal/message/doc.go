// Package message is RocketMQ's stored message layout (§3.1 of the protocol reference): the one
// byte format of the commit log, pull and query response bodies, HA transfer and
// CHECK_TRANSACTION_STATE bodies. It also owns properties (§3.3), offset message ids (§3.4),
// client unique keys (§3.5), batch request bodies (§3.6) and the tag hash (§3.7). It imports
// only the standard library, and every decoder of outside bytes returns an error instead of
// panicking (see the fuzz tests).
//
// Record layout, big-endian, IPv4 hosts (an IPv6 born or store host adds 12 bytes after it):
//
//	offset size field
//	     0    4 totalSize (whole record)
//	     4    4 magicCode 0xDAA320A7
//	     8    4 bodyCRC (CRC-32 IEEE of the stored body & 0x7FFFFFFF)
//	    12    4 queueId
//	    16    4 flag
//	    20    8 queueOffset
//	    28    8 physicalOffset (commit-log offset of byte 0 of this record)
//	    36    4 sysFlag
//	    40    8 bornTimestamp (ms)
//	    48    8 bornHost (4-byte IPv4 + 4-byte port; 16+4 for IPv6)
//	    56    8 storeTimestamp (ms)
//	    64    8 storeHost
//	    72    4 reconsumeTimes
//	    76    8 preparedTransactionOffset
//	    84    4 bodyLength B
//	    88    B body
//	  88+B    1 topicLength T (V1: at most 127)
//	  89+B    T topic
//	89+B+T    2 propertiesLength P (at most 32767)
//	91+B+T    P properties
//
// The end of a commit-log segment is marked by a blank: int remaining-bytes, int 0xCBD43194.
package message
