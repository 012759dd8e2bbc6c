// Package auth holds the cryptography shared by servers, the SDK and the tools: RocketMQ's ACL
// request signature, Skiff's node-to-node request signature and the HA link handshake. It is pure
// (standard library only), has no goroutines and takes time from its callers.
//
// # ACL signature (RocketMQ 4.x, wire compatible)
//
// A signed request carries the extFields AccessKey, Signature and optionally SecurityToken. The
// signed content is the values of every extField except Signature, ordered by key (byte order,
// which equals Java's String order for the ASCII keys RocketMQ uses), concatenated without
// separators, followed by the body:
//
//	content   = value(k1) || value(k2) || ... || body      (k1 < k2 < ..., Signature excluded)
//	Signature = base64(HMAC-SHA1(secretKey, content))
//
// The Java broker also leaves out "_UNIQUE_KEY_QUERY", which Java clients never sign (nor does
// Skiff's SDK, ACLKey.SignCommand); the official Go client v2.1.2 signs every field it has when it
// signs, but adds SecurityToken only after signing. Verify therefore accepts the strict Java
// content and, only when one of those two keys is present, the Go client's variant. The received
// Signature is compared, as a string like Java brokers do, with the base64 of the computed HMAC in
// constant time (crypto/subtle).
//
// # Node signature (Skiff)
//
// Requests between nodes (broker registration with name servers, slave metadata sync) carry
//
//	SkiffNodeTime  unix milliseconds of the signer's clock
//	SkiffNodeNonce 32 hex digits from crypto/rand
//	SkiffNodeSig   base64(HMAC-SHA256(clusterSecret, "skiff-node-v1\n" || code || "\n" ||
//	               for each extField except SkiffNodeSig, by key: key "=" value "\n" || body))
//
// A NodeVerifier accepts a request whose time is within its window of its own clock and whose
// nonce it has not accepted before within that window, so a recorded request cannot be replayed.
//
// # HA handshake (Skiff), before the RocketMQ HA stream, when a cluster secret is set
//
//	master -> slave  | "SKHA" (4) | version 1 (1) | nonceM (32) |                 37 bytes
//	slave  -> master | nonceS (32) | HMAC-SHA256(secret, "skiff-ha-slave\x00"  || nonceM || nonceS) (32) |
//	master -> slave  | HMAC-SHA256(secret, "skiff-ha-master\x00" || nonceM || nonceS) (32) |
//
// The master sends no log byte before the slave's proof verified, and the slave appends nothing
// before the master's proof verified. A fresh nonceM per connection defeats replays.
package auth
