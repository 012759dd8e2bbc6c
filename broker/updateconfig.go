package broker

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// runtimeKeys are the configuration keys UPDATE_BROKER_CONFIG may change while the broker runs.
// Others (ports, paths, names, role, file sizes, ...) need an edit of the file and a restart.
var runtimeKeys = map[string]bool{
	"brokerPermission": true, "autoCreateTopicEnable": true, "autoCreateSubscriptionGroup": true,
	"slaveReadEnable": true, "longPollingEnable": true, "shortPollingTimeMills": true,
	"notifyConsumerIdsChangedEnable": true, "rejectTransactionMessage": true, "traceOn": true,
	"regionId": true, "defaultQueryMaxNum": true, "clientChannelExpiredTime": true,
	"accessMessageInMemoryMaxRatio": true, "transactionTimeOut": true, "transactionCheckMax": true,
	"slaveTimeout": true, "haSlaveFallbehindMax": true, "defaultTopicQueueNums": true,
	"sendMessageInline": true,
}

// handleUpdateBrokerConfig answers UPDATE_BROKER_CONFIG (25): the body is key=value lines. Every
// key must exist and be changeable at runtime, and the resulting configuration must validate;
// then it replaces the running configuration at once (copy on write). The change is not written
// to the configuration file: edit it too to keep the change across restarts.
func (b *Broker) handleUpdateBrokerConfig(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	cur := b.cfgPtr.Load()
	next, changed, code, err := applyConfigBody(*cur, req.Body)
	if err != nil {
		return errResp(req, code, "%v", err)
	}
	// Compare-and-swap: in controller mode a role switch replaces the configuration too, and a
	// plain store here could put the old role back.
	if !b.cfgPtr.CompareAndSwap(cur, &next) {
		return errResp(req, remoting.SystemBusy, "the broker configuration changed while this update was applied (a role switch); retry")
	}
	sort.Strings(changed)
	b.log.Info("broker configuration updated", "changes", strings.Join(changed, " "))
	if next.BrokerPermission != cur.BrokerPermission {
		// The permissions travel with the registration, but a name server rewrites a broker's
		// queue data only for a new DataVersion: without this bump a change that follows a
		// registration with the same version is never seen (sends stayed refused).
		if err := b.topics.BumpVersion(); err != nil {
			b.log.Error("topic table version not persisted after a brokerPermission change", "err", err)
		}
	}
	b.triggerRegister()
	return respond(req, remoting.Success, "", nil, nil)
}

// applyConfigBody decodes an UPDATE_BROKER_CONFIG body (key=value lines, # comments) onto cfg and
// validates the result. On failure it returns the response code and an error naming the line,
// key or value.
func applyConfigBody(next Config, body []byte) (Config, []string, int32, error) {
	v := reflect.ValueOf(&next).Elem()
	fields := map[string]reflect.Value{}
	for i := 0; i < v.NumField(); i++ {
		if key := strings.Split(v.Type().Field(i).Tag.Get("toml"), ",")[0]; key != "" {
			fields[key] = v.Field(i)
		}
	}
	var changed []string
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		f, known := fields[key]
		switch {
		case !ok:
			return next, nil, remoting.SystemError, fmt.Errorf("bad config line %q: want key=value", line)
		case !known:
			return next, nil, remoting.SystemError, fmt.Errorf("unknown config key %q", key)
		case !runtimeKeys[key]:
			return next, nil, remoting.NoPermission, fmt.Errorf("config key %q cannot be changed while the broker runs; edit the file and restart", key)
		}
		if err := setField(f, val); err != nil {
			return next, nil, remoting.SystemError, fmt.Errorf("config %s = %q: %v", key, val, err)
		}
		changed = append(changed, key+"="+val)
	}
	if err := next.Validate(); err != nil {
		return next, nil, remoting.SystemError, err
	}
	return next, changed, remoting.Success, nil
}

func setField(f reflect.Value, val string) error {
	switch f.Kind() {
	case reflect.String:
		f.SetString(val)
	case reflect.Bool:
		v, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("not a boolean")
		}
		f.SetBool(v)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v, err := strconv.ParseInt(val, 10, 64)
		if err != nil || f.OverflowInt(v) {
			return fmt.Errorf("not an integer of the right size")
		}
		f.SetInt(v)
	default:
		return fmt.Errorf("unsupported type %s", f.Kind())
	}
	return nil
}
