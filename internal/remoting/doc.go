// Package remoting is the RocketMQ 4.x remoting wire protocol: the frame codec, Command, the
// request and response codes, and the two header serializations (JSON and ROCKETMQ binary).
// It imports only the standard library and is fuzz-tested; every decoder returns an error for
// bad input and never panics.
//
// # Frame
//
//	+----------------+-------------------------+------------------+------------------+
//	| length (int32) | serType(1) | hdrLen(3)  | header bytes     | body bytes       |
//	+----------------+-------------------------+------------------+------------------+
//	  4 bytes          4 bytes                   hdrLen bytes       length-4-hdrLen
//
// All integers are big-endian. length counts the bytes after itself (4 + hdrLen + bodyLen).
// serType 0 is JSON, 1 is ROCKETMQ. A frame is rejected when length < 4, length > the maximum
// frame size (16 MiB by default), hdrLen > length-4, hdrLen is below the minimum for its
// serialization (2 for JSON, 21 for ROCKETMQ), or serType is unknown. CheckLength and CheckPrefix
// let a server apply these checks before it buffers the rest of a frame.
//
// # JSON header (serType 0)
//
// Encode writes exactly the Go client's form, compact and in this field order:
//
//	{"code":105,"language":"GO","version":409,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"T"}}
//
// code and version must fit int16 (the Go client decodes them into int16 and drops the whole frame
// otherwise), and every extFields value is a JSON string. The decoder accepts Java's fastjson form
// as well: any field order, unknown fields (serializeTypeCurrentRPC), remark and extFields absent
// or null, language as a name or a number.
//
// # ROCKETMQ header (serType 1)
//
//	| Offset | Size      | Field                                                   |
//	|--------|-----------|---------------------------------------------------------|
//	| 0      | 2         | code (int16)                                            |
//	| 2      | 1         | language code (JAVA 0 ... GO 9 ... RUST 12)             |
//	| 3      | 2         | version (int16)                                         |
//	| 5      | 4         | opaque                                                  |
//	| 9      | 4         | flag                                                    |
//	| 13     | 4         | remarkLen (0 = no remark)                               |
//	| 17     | remarkLen | remark, UTF-8                                           |
//	| 17+r   | 4         | extLen (bytes of the ext section)                       |
//	| 21+r   | extLen    | entries: keyLen (int16), key, valLen (int32), value     |
//
// # Flag and opaque
//
// Flag bit 0 marks a response, bit 1 a oneway request (never answered). A response carries the
// request's opaque and is answered in the request's serialization (NewResponse does both).
// Skiff's own commands carry language "GO" and CurrentVersion (409, V4_9_8).
//
// # extFields
//
// All header parameters travel as strings. The Ext* methods read them with Java's parsing rules
// and return errors wrapping ErrMissingField or ErrBadField that name the field and the value.
package remoting
