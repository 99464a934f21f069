package zkmeta

import "context"

// ClusterID returns /cluster/id's id, creating it with newID when absent
// ({"version":"1","id":"..."}); a concurrent creator's id wins.
func (c *Client) ClusterID(ctx context.Context, newID string) (string, error) {
	panic("not implemented")
}

// ControllerEpoch is a won election: the epoch and the zkVersion of
// /controller_epoch that fences later controller writes.
type ControllerEpoch struct {
	Epoch     int32
	ZkVersion int32
}

// ElectController tries to become controller: it creates the ephemeral
// /controller ({"version":2,"brokerid":id,"timestamp":"...","kraftControllerEpoch":-1})
// and bumps /controller_epoch in one multi. won is false when another broker
// holds /controller.
func (c *Client) ElectController(ctx context.Context, brokerID int32) (ce ControllerEpoch, won bool, err error) {
	panic("not implemented")
}

// Controller returns the broker id in /controller, or -1 when there is none.
func (c *Client) Controller(ctx context.Context) (int32, error) { panic("not implemented") }
