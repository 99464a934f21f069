package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// Kafka's znode paths for the cluster and its controller (ZkData.scala).
const (
	clusterIDPath       = "/cluster/id"
	controllerPath      = "/controller"
	controllerEpochPath = "/controller_epoch"
)

// clusterIDJSON is /cluster/id: {"version":"1","id":"..."}. The version is a
// JSON string.
type clusterIDJSON struct {
	Version string `json:"version"`
	ID      string `json:"id"`
}

func encodeClusterID(id string) []byte {
	b, _ := json.Marshal(clusterIDJSON{Version: "1", ID: id})
	return b
}

func decodeClusterID(b []byte) (string, error) {
	var v struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("decode %s: %w", clusterIDPath, err)
	}
	if v.ID == nil || *v.ID == "" {
		return "", fmt.Errorf("decode %s: no id in %q", clusterIDPath, b)
	}
	return *v.ID, nil
}

// ClusterID returns /cluster/id's id, creating it with newID when absent
// ({"version":"1","id":"..."}); a concurrent creator's id wins.
func (c *Client) ClusterID(ctx context.Context, newID string) (id string, err error) {
	err = c.retrying(ctx, func() (err error) {
		id, err = c.clusterID(ctx, newID)
		return err
	})
	return id, err
}

func (c *Client) clusterID(ctx context.Context, newID string) (string, error) {
	for {
		data, _, err := c.get(ctx, clusterIDPath)
		if err == nil {
			return decodeClusterID(data)
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return "", wrap("read", clusterIDPath, err)
		}
		if err := c.ensurePath(ctx, "/cluster"); err != nil {
			return "", err
		}
		err = c.create(ctx, clusterIDPath, encodeClusterID(newID), 0)
		if err == nil {
			return newID, nil
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return "", wrap("create", clusterIDPath, err)
		}
		// Another broker created it first: read theirs.
	}
}

// controllerJSON is /controller. Kafka 3.x writes version 2 with
// kraftControllerEpoch -1; 2.8 writes version 1 without it. Readers only
// need brokerid.
type controllerJSON struct {
	Version              int    `json:"version"`
	BrokerID             *int32 `json:"brokerid"`
	Timestamp            string `json:"timestamp"`
	KRaftControllerEpoch *int32 `json:"kraftControllerEpoch,omitempty"`
}

func encodeController(brokerID int32, now time.Time) []byte {
	epoch := int32(-1)
	b, _ := json.Marshal(controllerJSON{
		Version:              2,
		BrokerID:             &brokerID,
		Timestamp:            strconv.FormatInt(now.UnixMilli(), 10),
		KRaftControllerEpoch: &epoch,
	})
	return b
}

func decodeController(b []byte) (int32, error) {
	var v controllerJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return -1, fmt.Errorf("decode %s: %w", controllerPath, err)
	}
	if v.BrokerID == nil {
		return -1, fmt.Errorf("decode %s: no brokerid in %q", controllerPath, b)
	}
	return *v.BrokerID, nil
}

// decodeControllerEpoch parses /controller_epoch: decimal text, not JSON.
func decodeControllerEpoch(b []byte) (int32, error) {
	e, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("decode %s %q: %w", controllerEpochPath, b, err)
	}
	return int32(e), nil
}

// ControllerEpoch is a won election: the epoch and the zkVersion of
// /controller_epoch that fences later controller writes.
type ControllerEpoch struct {
	Epoch     int32
	ZkVersion int32
}

// controllerEpoch reads /controller_epoch, creating it with "0" when
// missing (Kafka's InitialControllerEpoch).
func (c *Client) controllerEpoch(ctx context.Context) (ControllerEpoch, error) {
	for {
		data, stat, err := c.get(ctx, controllerEpochPath)
		if err == nil {
			e, err := decodeControllerEpoch(data)
			return ControllerEpoch{Epoch: e, ZkVersion: stat.Version}, err
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return ControllerEpoch{}, wrap("read", controllerEpochPath, err)
		}
		err = c.create(ctx, controllerEpochPath, []byte("0"), 0)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return ControllerEpoch{}, wrap("create", controllerEpochPath, err)
		}
	}
}

// ElectController tries to become controller: it creates the ephemeral
// /controller ({"version":2,"brokerid":id,"timestamp":"...","kraftControllerEpoch":-1})
// and bumps /controller_epoch in one multi. won is false when another broker
// holds /controller.
//
// If /controller already names this broker and belongs to this session
// (a retried election), it wins with the current epoch. A /controller left
// by an earlier session of this broker is not ours: won is false until it
// disappears (WatchController tells when), or until TakeOverController
// removes it because that session's process is known to have exited.
func (c *Client) ElectController(ctx context.Context, brokerID int32) (ce ControllerEpoch, won bool, err error) {
	err = c.retrying(ctx, func() (err error) {
		ce, won, err = c.electController(ctx, brokerID)
		return err
	})
	return ce, won, err
}

func (c *Client) electController(ctx context.Context, brokerID int32) (ce ControllerEpoch, won bool, err error) {
	data, stat, err := c.get(ctx, controllerPath)
	switch {
	case err == nil:
		// Held already; by us only if a retried election of this session.
		id, derr := decodeController(data)
		if derr == nil && id == brokerID && stat.EphemeralOwner == c.conn.SessionID() {
			ce, err = c.controllerEpoch(ctx)
			return ce, err == nil, err
		}
		return ControllerEpoch{}, false, nil
	case !errors.Is(err, zk.ErrNoNode):
		return ControllerEpoch{}, false, wrap("read", controllerPath, err)
	}

	cur, err := c.controllerEpoch(ctx)
	if err != nil {
		return ControllerEpoch{}, false, err
	}
	next := cur.Epoch + 1
	ops := []any{
		c.opCreate(controllerPath, encodeController(brokerID, time.Now()), zk.FlagEphemeral),
		c.opSet(controllerEpochPath, []byte(strconv.FormatInt(int64(next), 10)), cur.ZkVersion),
	}
	res, err := c.multi(ctx, ops...)
	if err == nil {
		return ControllerEpoch{Epoch: next, ZkVersion: res[1].Stat.Version}, true, nil
	}
	if ctx.Err() != nil {
		return ControllerEpoch{}, false, err
	}
	if !errors.Is(err, zk.ErrNodeExists) && !errors.Is(err, zk.ErrBadVersion) {
		return ControllerEpoch{}, false, fmt.Errorf("elect controller: %w", c.failedOp(ops, res, err))
	}
	// Someone else got there first, or our own earlier attempt did and its
	// answer was lost: only /controller can tell.
	won, err = c.holdsController(ctx, brokerID)
	if err != nil || !won {
		return ControllerEpoch{}, false, err
	}
	ce, err = c.controllerEpoch(ctx)
	return ce, err == nil, err
}

// holdsController reports whether /controller names brokerID and belongs to
// this session.
func (c *Client) holdsController(ctx context.Context, brokerID int32) (bool, error) {
	data, stat, err := c.get(ctx, controllerPath)
	if errors.Is(err, zk.ErrNoNode) {
		return false, nil
	}
	if err != nil {
		return false, wrap("read", controllerPath, err)
	}
	id, err := decodeController(data)
	if err != nil {
		return false, err
	}
	return id == brokerID && stat.EphemeralOwner == c.conn.SessionID(), nil
}

// TakeOverController deletes /controller when its ephemeralOwner is one of
// dead (sessions of this broker's exited previous process, as for
// TakeOverBroker), so ElectController can run a fresh election at once
// instead of waiting for that session to expire. It returns the session
// it took /controller from, or 0 when /controller is absent or held by any
// other session (the election then waits for it as before). Another broker
// may win the election that follows; that is an ordinary election.
func (c *Client) TakeOverController(ctx context.Context, dead []int64) (int64, error) {
	owner, err := c.takeOverEphemeral(ctx, controllerPath, dead)
	if err != nil {
		return 0, fmt.Errorf("take over controller: %w", err)
	}
	return owner, nil
}

// Controller returns the broker id in /controller, or -1 when there is none.
func (c *Client) Controller(ctx context.Context) (int32, error) {
	data, _, err := c.get(ctx, controllerPath)
	if errors.Is(err, zk.ErrNoNode) {
		return -1, nil
	}
	if err != nil {
		return -1, wrap("read", controllerPath, err)
	}
	return decodeController(data)
}

// WatchController returns the broker id in /controller (-1 when none) and a
// channel closed once /controller is created, changed or deleted, as every
// Kafka broker's ControllerChangeHandler watches it. The channel is also
// closed when the watch is lost (session expiry, Close) or ctx ends; callers
// read again and re-elect when the id is -1.
func (c *Client) WatchController(ctx context.Context) (int32, <-chan struct{}, error) {
	type watched struct {
		data   []byte
		exists bool
		ev     <-chan zk.Event
	}
	for {
		r, err := call(ctx, func() (watched, error) {
			data, _, ev, err := c.conn.GetW(c.abs(controllerPath))
			if err == nil {
				return watched{data, true, ev}, nil
			}
			if !errors.Is(err, zk.ErrNoNode) {
				return watched{}, err
			}
			// Absent: watch for its creation instead.
			ok, _, ev, err := c.conn.ExistsW(c.abs(controllerPath))
			if err == nil && ok {
				return watched{}, errRetry // created in between: read it
			}
			return watched{nil, false, ev}, err
		})
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return -1, nil, wrap("watch", controllerPath, err)
		}
		if !r.exists {
			return -1, c.fireOnce(ctx, r.ev), nil
		}
		id, err := decodeController(r.data)
		if err != nil {
			return -1, nil, err
		}
		return id, c.fireOnce(ctx, r.ev), nil
	}
}

// errRetry makes a loop read again after a race with another writer.
var errRetry = errors.New("retry")

// ResignController deletes /controller if this controller's epoch is
// still current (Kafka's deleteController during controlled shutdown), so
// another broker can take over at once instead of after the session ends.
func (c *Client) ResignController(ctx context.Context, ce ControllerEpoch) error {
	_, err := c.fenced(ctx, ce, c.opDelete(controllerPath, -1))
	if errors.Is(err, ErrNoNode) {
		return nil
	}
	return err
}

// fireOnce turns a go-zookeeper watch into a channel that is closed once:
// on the watch's event (including the "not watching" event sent when the
// session expires or the client closes) or when ctx ends.
func (c *Client) fireOnce(ctx context.Context, ev <-chan zk.Event) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		defer close(out)
		select {
		case <-ev:
		case <-ctx.Done():
		case <-c.ctx.Done():
		}
	}()
	return out
}
