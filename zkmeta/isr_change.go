package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/go-zookeeper/zk"
)

// isrChangePath holds the ISR change notifications that partition leaders
// of inter.broker.protocol.version < 2.7-IV2 write after changing an ISR
// directly in a state znode; newer leaders use AlterPartition instead.
const isrChangePath = "/isr_change_notification"

// isrChangeJSON is one notification:
// {"version":1,"partitions":[{"topic":"foo","partition":0}]}.
type isrChangeJSON struct {
	Version    int `json:"version"`
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
	} `json:"partitions"`
}

// IsrChangedPartition names a partition listed in a notification.
type IsrChangedPartition struct {
	Topic     string
	Partition int32
}

// WatchIsrChanges lists /isr_change_notification with a child watch and
// reads every notification; names are the children read (to delete once
// handled). A notification that does not parse is skipped (and returned in
// names, so it is deleted too) rather than blocking the others.
func (c *Client) WatchIsrChanges(ctx context.Context) (names []string, parts []IsrChangedPartition, changed <-chan struct{}, err error) {
	kids, ev, err := c.childrenW(ctx, isrChangePath)
	if err != nil {
		return nil, nil, nil, wrap("watch", isrChangePath, err)
	}
	sort.Strings(kids)
	for _, k := range kids {
		data, _, err := c.get(ctx, isrChangePath+"/"+k)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, nil, nil, wrap("read", isrChangePath+"/"+k, err)
		}
		names = append(names, k)
		var v isrChangeJSON
		if json.Unmarshal(data, &v) != nil {
			continue
		}
		for _, p := range v.Partitions {
			if validTopicName(p.Topic) == nil {
				parts = append(parts, IsrChangedPartition{p.Topic, p.Partition})
			}
		}
	}
	return names, parts, c.fireOnce(ctx, ev), nil
}

// DeleteIsrChanges removes handled notifications, fenced by the controller
// epoch; notifications already gone are skipped.
func (c *Client) DeleteIsrChanges(ctx context.Context, ce ControllerEpoch, names []string) error {
	for _, n := range names {
		_, err := c.fenced(ctx, ce, c.opDelete(isrChangePath+"/"+n, -1))
		if err != nil && !errors.Is(err, ErrNoNode) {
			return fmt.Errorf("delete isr change notification %s: %w", n, err)
		}
	}
	return nil
}
