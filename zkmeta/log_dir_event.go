package zkmeta

import (
	"context"
	"encoding/json"
	"fmt"

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
