package protocol

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestProtocolCodeSetAcceptsStringsAndNumbers(t *testing.T) {
	for in, want := range map[string][]int64{
		`{"codeSet":["2598919","-5"]}`:       {2598919, -5},
		`{"codeSet":[2598919,7]}`:            {2598919, 7},
		`{"codeSet":["x",1.5,{"a":1},3,[]]}`: {3},
		`{"codeSet":null}`:                   nil,
		`{"codeSet":"nope"}`:                 nil,
		`{"codeSet":[]}`:                     nil,
	} {
		var sd SubscriptionData
		if err := json.Unmarshal([]byte(in), &sd); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !slices.Equal(sd.CodeSet, want) {
			t.Errorf("%s: codes %v, want %v", in, sd.CodeSet, want)
		}
	}
	b, _ := json.Marshal(SubscriptionData{CodeSet: CodeSet{1, 2}})
	var back SubscriptionData
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back.CodeSet, CodeSet{1, 2}) {
		t.Fatalf("round trip %s: %v %v", b, back.CodeSet, err)
	}
}
