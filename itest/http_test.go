package itest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/testutil"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBrokerHTTPReadinessAndMetrics starts real brokers with httpPort: /readyz is 503 while the
// broker cannot register and 200 once it has; /metrics counts a known workload.
func TestBrokerHTTPReadinessAndMetrics(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	// A broker whose only name server does not exist never becomes ready.
	lonely := testutil.StartBroker(t, bins.Broker, testutil.BrokerOptions{NamesrvAddr: testutil.DeadAddr(t),
		NoWaitRegistration: true, BrokerName: "lonely", HTTP: true})
	lonelyPort := lonely.HTTPPort
	testutil.WaitFor(t, 20*time.Second, func() bool {
		code, _ := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(lonelyPort)+"/healthz")
		return code == 200
	}, "the lonely broker's /healthz")
	if code, _ := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(lonelyPort)+"/readyz"); code != 503 {
		t.Fatalf("/readyz of a broker that cannot register = %d, want 503", code)
	}

	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, Broker: testutil.BrokerOptions{HTTP: true}})
	port := c.Broker.HTTPPort
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	testutil.WaitFor(t, 20*time.Second, func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 }, "/readyz after registration")
	for i := 0; i < 3; i++ {
		mustAdmin(t, "sendMessage", "-n", c.NameServers[0].Addr, "-t", "HttpTopic", "-p", "12345")
	}
	testutil.WaitFor(t, 10*time.Second, func() bool {
		return strings.Contains(mustAdmin(t, "consumeMessage", "-n", c.NameServers[0].Addr, "-t", "HttpTopic", "-c", "3"), "3 messages")
	}, "consumeMessage to read the three messages")
	_, body := httpGet(t, base+"/metrics")
	for _, want := range []string{`skiff_messages_in_total{topic="HttpTopic"} 3`, `skiff_bytes_in_total{topic="HttpTopic"} 15`,
		`skiff_messages_out_total{topic="HttpTopic"}`, "skiff_broker_ready 1", "skiff_remoting_connections"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, body := httpGet(t, base+"/api/runtime"); code != 200 || !strings.Contains(body, `"brokerRole":"ASYNC_MASTER"`) {
		t.Fatalf("/api/runtime = %d %s", code, body)
	}
}
