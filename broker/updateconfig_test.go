package broker

import (
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// TestBrokerPermissionUpdateBumpsDataVersion: a name server rewrites a broker's queue data only
// for a new DataVersion, so a brokerPermission change must move it (or a registration with the
// old version carries the new permissions in vain: itest's TestMqadminUpdateBrokerConfig then
// saw sends refused after the permission came back). Other keys leave it alone.
func TestBrokerPermissionUpdateBumpsDataVersion(t *testing.T) {
	tb := startBroker(t, nil)
	v0 := tb.b.topics.Version()
	if r := tb.call(t, remoting.UpdateBrokerConfig, nil, []byte("slaveReadEnable=true\n"), 5*time.Second); r.Code != remoting.Success {
		t.Fatalf("update slaveReadEnable: %d %s", r.Code, r.Remark)
	}
	if v := tb.b.topics.Version(); v != v0 {
		t.Fatalf("slaveReadEnable moved the topic table's version %+v -> %+v", v0, v)
	}
	for _, perm := range []string{"4", "6"} {
		before := tb.b.topics.Version()
		if r := tb.call(t, remoting.UpdateBrokerConfig, nil, []byte("brokerPermission="+perm+"\n"), 5*time.Second); r.Code != remoting.Success {
			t.Fatalf("update brokerPermission=%s: %d %s", perm, r.Code, r.Remark)
		}
		if v := tb.b.topics.Version(); v.Counter <= before.Counter {
			t.Fatalf("brokerPermission=%s left the version at %+v (was %+v)", perm, v, before)
		}
	}
}
