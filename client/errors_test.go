package client_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/remoting"
)

var sentinels = []error{
	client.ErrNoNameServer, client.ErrTopicNotExist, client.ErrTimeout, client.ErrConnect, client.ErrConnClosed,
	client.ErrBrokerBusy, client.ErrFlushDiskTimeout, client.ErrFlushSlaveTimeout, client.ErrSlaveNotAvailable,
	client.ErrNoPermission, client.ErrMessageIllegal, client.ErrSubscriptionGroupNotExist, client.ErrInvalidArgument,
	client.ErrNotStarted, client.ErrClosed, client.ErrBadResponse,
}

func TestCodeError(t *testing.T) {
	cases := []struct {
		code int32
		want error
	}{
		{17, client.ErrTopicNotExist},
		{2, client.ErrBrokerBusy},
		{215, client.ErrBrokerBusy},
		{10, client.ErrFlushDiskTimeout},
		{12, client.ErrFlushSlaveTimeout},
		{11, client.ErrSlaveNotAvailable},
		{16, client.ErrNoPermission},
		{13, client.ErrMessageIllegal},
		{26, client.ErrSubscriptionGroupNotExist},
		{0, nil},
		{1, nil},
		{14, nil},
		{25, nil},
		{-1, nil},
	}
	// The numbers are the protocol's: check they agree with the remoting constants.
	if remoting.TopicNotExist != 17 || remoting.SystemBusy != 2 || remoting.FlowControl != 215 ||
		remoting.FlushDiskTimeout != 10 || remoting.FlushSlaveTimeout != 12 || remoting.SlaveNotAvailable != 11 ||
		remoting.NoPermission != 16 || remoting.MessageIllegal != 13 || remoting.SubscriptionGroupNotExist != 26 {
		t.Fatal("remoting response codes differ from RocketMQ's")
	}
	for _, c := range cases {
		if got := client.CodeError(c.code); got != c.want {
			t.Errorf("CodeError(%d) = %v, want %v", c.code, got, c.want)
		}
		be := &client.BrokerError{Addr: "127.0.0.1:10911", RequestCode: 310, Code: c.code, Remark: "why"}
		wrapped := fmt.Errorf("producer: send: %w", fmt.Errorf("attempt 1: %w", be))
		for _, s := range sentinels {
			if got, want := errors.Is(wrapped, s), s == c.want; got != want {
				t.Errorf("code %d: errors.Is(wrapped, %v) = %v, want %v", c.code, s, got, want)
			}
		}
		var back *client.BrokerError
		if !errors.As(wrapped, &back) || back != be {
			t.Errorf("code %d: errors.As did not find the BrokerError", c.code)
		}
	}
}

func TestBrokerErrorMessageAndIs(t *testing.T) {
	be := &client.BrokerError{Addr: "1.2.3.4:10911", RequestCode: 105, Code: 17, Remark: "No topic route info"}
	msg := be.Error()
	for _, part := range []string{"105", "1.2.3.4:10911", "17", "No topic route info"} {
		if !strings.Contains(msg, part) {
			t.Errorf("Error() = %q does not contain %q", msg, part)
		}
	}
	if be.Is(nil) {
		t.Error("Is(nil) = true")
	}
	if (&client.BrokerError{Code: 1}).Is(nil) {
		t.Error("a code without a sentinel matched nil")
	}
	if errors.Is(be, errors.New("client: topic does not exist")) {
		t.Error("matched a different error with the same text")
	}
	// errors.Join keeps the match (the producer joins the errors of its attempts).
	joined := errors.Join(errors.New("first"), fmt.Errorf("second: %w", be))
	if !errors.Is(joined, client.ErrTopicNotExist) || errors.Is(joined, client.ErrBrokerBusy) {
		t.Errorf("joined error matching is wrong: %v", joined)
	}
}

func TestSentinelsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i, a := range sentinels {
		if !strings.HasPrefix(a.Error(), "client: ") {
			t.Errorf("sentinel %q lacks the package prefix", a)
		}
		if seen[a.Error()] {
			t.Errorf("two sentinels read %q", a)
		}
		seen[a.Error()] = true
		for j, b := range sentinels {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}
