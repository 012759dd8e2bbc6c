package protocol

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxInflated bounds the size of a decompressed REGISTER_BROKER body.
const maxInflated = 64 << 20

// RegisterBrokerBody is the body of REGISTER_BROKER.
type RegisterBrokerBody struct {
	FilterServerList            []string                    `json:"filterServerList"`
	TopicConfigSerializeWrapper TopicConfigSerializeWrapper `json:"topicConfigSerializeWrapper"`
}

// TopicConfigSerializeWrapper carries a broker's topic table and its DataVersion.
type TopicConfigSerializeWrapper struct {
	DataVersion      DataVersion            `json:"dataVersion"`
	TopicConfigTable map[string]TopicConfig `json:"topicConfigTable"`
}

// EncodeRegisterBody encodes body as standard, compact JSON (the form the Skiff broker sends).
func EncodeRegisterBody(body RegisterBrokerBody) []byte {
	if body.FilterServerList == nil {
		body.FilterServerList = []string{}
	}
	if body.TopicConfigSerializeWrapper.TopicConfigTable == nil {
		body.TopicConfigSerializeWrapper.TopicConfigTable = map[string]TopicConfig{}
	}
	b, err := json.Marshal(body)
	if err != nil { // cannot happen: plain strings, numbers and maps with string keys
		panic(fmt.Sprintf("routeinfo: encode register body: %v", err))
	}
	return b
}

// DecodeRegisterBody decodes a REGISTER_BROKER body: JSON in the standard or fastjson form, or,
// when compressed is true, RocketMQ's zlib form (see doc.go). A missing topicConfigTable decodes
// as a nil map; an empty one as an empty map.
func DecodeRegisterBody(b []byte, compressed bool) (RegisterBrokerBody, error) {
	if compressed {
		return decodeCompressedRegisterBody(b)
	}
	var body RegisterBrokerBody
	std, err := StandardizeJSON(b)
	if err != nil {
		return body, err
	}
	if err := json.Unmarshal(std, &body); err != nil {
		return RegisterBrokerBody{}, fmt.Errorf("%w: register body: %v", ErrBadBody, err)
	}
	for name, tc := range body.TopicConfigSerializeWrapper.TopicConfigTable {
		if tc.TopicName == "" {
			tc.TopicName = name
			body.TopicConfigSerializeWrapper.TopicConfigTable[name] = tc
		}
	}
	return body, nil
}

func decodeCompressedRegisterBody(b []byte) (RegisterBrokerBody, error) {
	var body RegisterBrokerBody
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return body, fmt.Errorf("%w: compressed register body: %v", ErrBadBody, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil {
		return body, fmt.Errorf("%w: compressed register body: %v", ErrBadBody, err)
	}
	if len(raw) > maxInflated {
		return body, fmt.Errorf("%w: compressed register body inflates beyond %d bytes", ErrBadBody, maxInflated)
	}
	r := &byteReader{b: raw}
	dv, err := r.chunk()
	if err != nil {
		return body, err
	}
	if err := json.Unmarshal(dv, &body.TopicConfigSerializeWrapper.DataVersion); err != nil {
		return body, fmt.Errorf("%w: compressed register body: data version: %v", ErrBadBody, err)
	}
	n, err := r.int32()
	if err != nil {
		return body, err
	}
	if n < 0 || int(n) > len(raw)/4 {
		return body, fmt.Errorf("%w: compressed register body: topic count %d", ErrBadBody, n)
	}
	table := make(map[string]TopicConfig, n)
	for i := int32(0); i < n; i++ {
		enc, err := r.chunk()
		if err != nil {
			return body, err
		}
		tc, err := decodeTopicConfigLine(string(enc))
		if err != nil {
			return body, err
		}
		table[tc.TopicName] = tc
	}
	body.TopicConfigSerializeWrapper.TopicConfigTable = table
	if r.remaining() > 0 {
		fl, err := r.chunk()
		if err != nil {
			return body, err
		}
		if len(fl) > 0 {
			if err := json.Unmarshal(fl, &body.FilterServerList); err != nil {
				return body, fmt.Errorf("%w: compressed register body: filter server list: %v", ErrBadBody, err)
			}
		}
	}
	return body, nil
}

// decodeTopicConfigLine parses TopicConfig.encode(): "topicName read write perm filterType".
func decodeTopicConfigLine(s string) (TopicConfig, error) {
	f := strings.Split(s, " ")
	if len(f) < 5 || f[0] == "" {
		return TopicConfig{}, fmt.Errorf("%w: topic config %q", ErrBadBody, s)
	}
	var nums [3]int32
	for i := range nums {
		v, err := strconv.ParseInt(f[i+1], 10, 32)
		if err != nil {
			return TopicConfig{}, fmt.Errorf("%w: topic config %q", ErrBadBody, s)
		}
		nums[i] = int32(v)
	}
	return TopicConfig{TopicName: f[0], ReadQueueNums: nums[0], WriteQueueNums: nums[1], Perm: nums[2], TopicFilterType: f[4]}, nil
}

// EncodeCompressedRegisterBody encodes body in RocketMQ's compressed form (zlib). topicSysFlag and
// order are not carried by that form.
func EncodeCompressedRegisterBody(body RegisterBrokerBody) []byte {
	var raw bytes.Buffer
	put := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		raw.Write(n[:])
		raw.Write(b)
	}
	dv, _ := json.Marshal(body.TopicConfigSerializeWrapper.DataVersion)
	put(dv)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(body.TopicConfigSerializeWrapper.TopicConfigTable)))
	raw.Write(n[:])
	for _, name := range sortedTopicNames(body.TopicConfigSerializeWrapper.TopicConfigTable) {
		tc := body.TopicConfigSerializeWrapper.TopicConfigTable[name]
		put([]byte(fmt.Sprintf("%s %d %d %d %s", name, tc.ReadQueueNums, tc.WriteQueueNums, tc.Perm, tc.TopicFilterType)))
	}
	fl := body.FilterServerList
	if fl == nil {
		fl = []string{}
	}
	flb, _ := json.Marshal(fl)
	put(flb)
	var out bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&out, zlib.BestCompression)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()
	return out.Bytes()
}

func sortedTopicNames(m map[string]TopicConfig) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type byteReader struct {
	b   []byte
	off int
}

func (r *byteReader) remaining() int { return len(r.b) - r.off }

func (r *byteReader) int32() (int32, error) {
	if r.remaining() < 4 {
		return 0, fmt.Errorf("%w: compressed register body truncated at %d", ErrBadBody, r.off)
	}
	v := int32(binary.BigEndian.Uint32(r.b[r.off:]))
	r.off += 4
	return v, nil
}

func (r *byteReader) chunk() ([]byte, error) {
	n, err := r.int32()
	if err != nil {
		return nil, err
	}
	if n < 0 || int(n) > r.remaining() {
		return nil, fmt.Errorf("%w: compressed register body: length %d at %d", ErrBadBody, n, r.off-4)
	}
	c := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return c, nil
}

// EncodeTopicRoute encodes a route as compact JSON with fields in fastjson's (alphabetical) order.
// standard=false writes brokerAddrs keys unquoted ({0:"ip:port"}), as a Java name server does for
// requesters older than V4_9_4; standard=true quotes them and escapes non-ASCII as \uXXXX.
// brokerAddrs is always present and never contains whitespace (the Go client parses it as text).
func EncodeTopicRoute(r TopicRouteData, standard bool) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"brokerDatas":[`...)
	for i, bd := range r.BrokerDatas {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBrokerData(b, bd, standard)
	}
	b = append(b, `],"filterServerTable":{`...)
	for i, k := range slices.Sorted(maps.Keys(r.FilterServerTable)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k, standard)
		b = append(b, ":["...)
		for j, v := range r.FilterServerTable[k] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v, standard)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	if r.OrderTopicConf != "" {
		b = append(b, `,"orderTopicConf":`...)
		b = appendString(b, r.OrderTopicConf, standard)
	}
	b = append(b, `,"queueDatas":[`...)
	for i, qd := range r.QueueDatas {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"brokerName":`...)
		b = appendString(b, qd.BrokerName, standard)
		b = append(b, `,"perm":`...)
		b = strconv.AppendInt(b, int64(qd.Perm), 10)
		b = append(b, `,"readQueueNums":`...)
		b = strconv.AppendInt(b, int64(qd.ReadQueueNums), 10)
		b = append(b, `,"topicSysFlag":`...)
		b = strconv.AppendInt(b, int64(qd.TopicSysFlag), 10)
		b = append(b, `,"writeQueueNums":`...)
		b = strconv.AppendInt(b, int64(qd.WriteQueueNums), 10)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	return b
}

func appendBrokerData(b []byte, bd BrokerData, standard bool) []byte {
	b = append(b, `{"brokerAddrs":{`...)
	for i, id := range slices.Sorted(maps.Keys(bd.BrokerAddrs)) {
		if i > 0 {
			b = append(b, ',')
		}
		if standard {
			b = append(b, '"')
		}
		b = strconv.AppendInt(b, id, 10)
		if standard {
			b = append(b, '"')
		}
		b = append(b, ':')
		b = appendString(b, bd.BrokerAddrs[id], standard)
	}
	b = append(b, `},"brokerName":`...)
	b = appendString(b, bd.BrokerName, standard)
	b = append(b, `,"cluster":`...)
	b = appendString(b, bd.Cluster, standard)
	b = append(b, '}')
	return b
}

// EncodeClusterInfo encodes GET_BROKER_CLUSTER_INFO's body, compact, alphabetical fields, broker
// names and cluster members sorted. standard selects quoted broker-id keys (see EncodeTopicRoute);
// a Java name server always sends the unquoted form.
func EncodeClusterInfo(ci ClusterInfo, standard bool) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"brokerAddrTable":{`...)
	names := make([]string, 0, len(ci.BrokerAddrTable))
	for n := range ci.BrokerAddrTable {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n, standard)
		b = append(b, ':')
		b = appendBrokerData(b, ci.BrokerAddrTable[n], standard)
	}
	b = append(b, `},"clusterAddrTable":{`...)
	clusters := make([]string, 0, len(ci.ClusterAddrTable))
	for c := range ci.ClusterAddrTable {
		clusters = append(clusters, c)
	}
	sort.Strings(clusters)
	for i, c := range clusters {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, c, standard)
		b = append(b, ":["...)
		members := append([]string(nil), ci.ClusterAddrTable[c]...)
		sort.Strings(members)
		for j, m := range members {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m, standard)
		}
		b = append(b, ']')
	}
	b = append(b, "}}"...)
	return b
}

type wireQueueData struct {
	BrokerName     string `json:"brokerName"`
	Perm           int32  `json:"perm"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	TopicSysFlag   int32  `json:"topicSysFlag"`
	WriteQueueNums int32  `json:"writeQueueNums"`
}

type wireBrokerData struct {
	BrokerAddrs map[string]string `json:"brokerAddrs"`
	BrokerName  string            `json:"brokerName"`
	Cluster     string            `json:"cluster"`
}

func (w wireBrokerData) toBrokerData() (BrokerData, error) {
	bd := BrokerData{Cluster: w.Cluster, BrokerName: w.BrokerName, BrokerAddrs: make(map[int64]string, len(w.BrokerAddrs))}
	for k, v := range w.BrokerAddrs {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return BrokerData{}, fmt.Errorf("%w: broker id %q", ErrBadBody, k)
		}
		bd.BrokerAddrs[id] = v
	}
	return bd, nil
}

// DecodeTopicRoute decodes a route body in either form.
func DecodeTopicRoute(b []byte) (TopicRouteData, error) {
	std, err := StandardizeJSON(b)
	if err != nil {
		return TopicRouteData{}, err
	}
	var w struct {
		BrokerDatas       []wireBrokerData    `json:"brokerDatas"`
		FilterServerTable map[string][]string `json:"filterServerTable"`
		OrderTopicConf    string              `json:"orderTopicConf"`
		QueueDatas        []wireQueueData     `json:"queueDatas"`
	}
	if err := json.Unmarshal(std, &w); err != nil {
		return TopicRouteData{}, fmt.Errorf("%w: route: %v", ErrBadBody, err)
	}
	r := TopicRouteData{OrderTopicConf: w.OrderTopicConf}
	if len(w.FilterServerTable) > 0 { // {} (what name servers send) decodes as nil
		r.FilterServerTable = w.FilterServerTable
	}
	for _, q := range w.QueueDatas {
		r.QueueDatas = append(r.QueueDatas, QueueData{BrokerName: q.BrokerName, ReadQueueNums: q.ReadQueueNums,
			WriteQueueNums: q.WriteQueueNums, Perm: q.Perm, TopicSysFlag: q.TopicSysFlag})
	}
	for _, wb := range w.BrokerDatas {
		bd, err := wb.toBrokerData()
		if err != nil {
			return TopicRouteData{}, err
		}
		r.BrokerDatas = append(r.BrokerDatas, bd)
	}
	return r, nil
}

// DecodeClusterInfo decodes a cluster info body in either form.
func DecodeClusterInfo(b []byte) (ClusterInfo, error) {
	std, err := StandardizeJSON(b)
	if err != nil {
		return ClusterInfo{}, err
	}
	var w struct {
		BrokerAddrTable  map[string]wireBrokerData `json:"brokerAddrTable"`
		ClusterAddrTable map[string][]string       `json:"clusterAddrTable"`
	}
	if err := json.Unmarshal(std, &w); err != nil {
		return ClusterInfo{}, fmt.Errorf("%w: cluster info: %v", ErrBadBody, err)
	}
	ci := ClusterInfo{BrokerAddrTable: make(map[string]BrokerData, len(w.BrokerAddrTable)), ClusterAddrTable: w.ClusterAddrTable}
	if ci.ClusterAddrTable == nil {
		ci.ClusterAddrTable = map[string][]string{}
	}
	for n, wb := range w.BrokerAddrTable {
		bd, err := wb.toBrokerData()
		if err != nil {
			return ClusterInfo{}, err
		}
		ci.BrokerAddrTable[n] = bd
	}
	return ci, nil
}

// appendString appends s as a JSON string. asciiOnly escapes every non-ASCII rune as \uXXXX
// (surrogate pairs beyond the BMP); invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string, asciiOnly bool) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if !asciiOnly {
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\ufffd"...)
			} else {
				b = utf8.AppendRune(b, r)
			}
			continue
		}
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			b = appendU(b, r1)
			b = appendU(b, r2)
		} else {
			b = appendU(b, r)
		}
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[(r>>12)&0xf], hex[(r>>8)&0xf], hex[(r>>4)&0xf], hex[r&0xf])
}
