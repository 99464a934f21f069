package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"
)

// logDirEventPath holds the notifications brokers write when a log dir
// fails (Kafka's LogDirEventNotificationZNode); the controller watches its
// children, learns from each which broker lost a log dir, and deletes it.
const logDirEventPath = "/log_dir_event_notification"

// logDirEventPrefix is the sequential child's name before ZooKeeper's
// ten-digit sequence number.
const logDirEventPrefix = "log_dir_event_"

// logDirFailureEvent is the event code Kafka writes for a failed log dir
// (LogDirEventNotificationHandler.LogDirFailureEvent).
const logDirFailureEvent = 1

// logDirEventJSON is one notification: {"version":1,"broker":3,"event":1}.
type logDirEventJSON struct {
	Version int   `json:"version"`
	Broker  int32 `json:"broker"`
	Event   int   `json:"event"`
}

// NotifyLogDirFailure writes /log_dir_event_notification/log_dir_event_<seq>
// saying that broker lost a log dir, as Kafka's broker does from its
// LogDirFailureChannel handler, so that the controller moves the leadership
// of the replicas in it.
func (c *Client) NotifyLogDirFailure(ctx context.Context, broker int32) error {
	data, err := json.Marshal(logDirEventJSON{Version: 1, Broker: broker, Event: logDirFailureEvent})
	if err != nil {
		return fmt.Errorf("encode log dir event: %w", err)
	}
	if err := c.create(ctx, logDirEventPath+"/"+logDirEventPrefix, data, zk.FlagSequence); err != nil {
		return wrap("create", logDirEventPath+"/"+logDirEventPrefix, err)
	}
	return nil
}

// WatchLogDirEvents lists /log_dir_event_notification with a child watch
// and reads every notification (Kafka's LogDirEventNotificationHandler and
// getBrokerIdsFromLogDirEvents): names are the children read, to delete
// once handled, and brokers the distinct brokers they name, in order. A
// notification that does not parse names no broker but is still returned
// in names, so that it is deleted rather than read again forever.
func (c *Client) WatchLogDirEvents(ctx context.Context) (names []string, brokers []int32, changed <-chan struct{}, err error) {
	kids, ev, err := c.childrenW(ctx, logDirEventPath)
	if err != nil {
		return nil, nil, nil, wrap("watch", logDirEventPath, err)
	}
	sort.Strings(kids)
	for _, k := range kids {
		if !strings.HasPrefix(k, logDirEventPrefix) {
			continue
		}
		data, _, err := c.get(ctx, logDirEventPath+"/"+k)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, nil, nil, wrap("read", logDirEventPath+"/"+k, err)
		}
		names = append(names, k)
		if b, ok := decodeLogDirEvent(data); ok && !slices.Contains(brokers, b) {
			brokers = append(brokers, b)
		}
	}
	return names, brokers, c.fireOnce(ctx, ev), nil
}

// decodeLogDirEvent returns the broker a notification names. As Kafka's
// decoder, only the broker field matters; the event code has a single
// value (1, a log dir failure).
func decodeLogDirEvent(data []byte) (int32, bool) {
	var v struct {
		Broker *int32 `json:"broker"`
	}
	if json.Unmarshal(data, &v) != nil || v.Broker == nil || *v.Broker < 0 {
		return 0, false
	}
	return *v.Broker, true
}

// DeleteLogDirEvents removes handled notifications, fenced by the
// controller epoch; notifications already gone are skipped.
func (c *Client) DeleteLogDirEvents(ctx context.Context, ce ControllerEpoch, names []string) error {
	for _, n := range names {
		_, err := c.fenced(ctx, ce, c.opDelete(logDirEventPath+"/"+n, -1))
		if err != nil && !errors.Is(err, ErrNoNode) {
			return fmt.Errorf("delete log dir event notification %s: %w", n, err)
		}
	}
	return nil
}
