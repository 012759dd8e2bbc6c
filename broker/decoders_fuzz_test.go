package broker

import (
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

// FuzzBrokerConfigBody applies arbitrary UPDATE_BROKER_CONFIG bodies to the default
// configuration: no panic; an accepted body yields a configuration that validates, and a refused
// one says why with a code.
func FuzzBrokerConfigBody(f *testing.F) {
	f.Add([]byte("brokerPermission=4\n"))
	f.Add([]byte("# comment\nslaveReadEnable = true\nmaxMessageSize=1024\n"))
	f.Add([]byte("listenPort=1\n"))
	f.Add([]byte("nokey\n"))
	f.Add([]byte("brokerPermission=99999999999999999999\n"))
	base := DefaultConfig()
	base.BrokerName, base.NamesrvAddr, base.StorePathRootDir = "b", "127.0.0.1:9876", "/tmp/x"
	f.Fuzz(func(t *testing.T, body []byte) {
		next, changed, code, err := applyConfigBody(base, body)
		if err != nil {
			if code == remoting.Success || err.Error() == "" {
				t.Fatalf("refusal with code %d and error %q", code, err)
			}
			return
		}
		if verr := next.Validate(); verr != nil {
			t.Fatalf("accepted %q gives an invalid configuration: %v", body, verr)
		}
		_ = changed
	})
}

func TestBrokerConfigBodyApplies(t *testing.T) {
	base := DefaultConfig()
	base.BrokerName, base.NamesrvAddr, base.StorePathRootDir = "b", "127.0.0.1:9876", "/tmp/x"
	next, changed, code, err := applyConfigBody(base, []byte("# c\nbrokerPermission = 4\n\nslaveReadEnable=true\n"))
	if err != nil || code != remoting.Success || next.BrokerPermission != 4 || !next.SlaveReadEnable || len(changed) != 2 {
		t.Fatalf("apply: %+v %v %d %v", changed, err, code, next.BrokerPermission)
	}
	if _, _, code, err := applyConfigBody(base, []byte("listenPort=1")); code != remoting.NoPermission || err == nil {
		t.Fatalf("listenPort at runtime: code %d err %v", code, err)
	}
}
