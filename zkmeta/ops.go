package zkmeta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/gokafka/internal/backoff"
	"go.uber.org/zap"
)

// ErrBadVersion is returned by conditional writes when the znode changed
// since it was read (ZooKeeper's BADVERSION); Kafka answers
// INVALID_UPDATE_VERSION or re-reads and retries.
var ErrBadVersion = errors.New("znode version changed")

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("zookeeper client closed")

// openACL is what Kafka uses when zookeeper.set.acl is false (the default).
var openACL = zk.WorldACL(zk.PermAll)

// call runs a blocking go-zookeeper request and returns early when ctx ends.
// go-zookeeper's calls take no context; they end by themselves when the
// connection fails (within about a second while ZooKeeper is unreachable),
// so the goroutine left behind by a cancelled call is short-lived.
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// abs turns a Kafka path ("/brokers/ids") into the path in ZooKeeper,
// under the chroot.
func (c *Client) abs(p string) string {
	if p == "/" {
		if c.chroot != "" {
			return c.chroot
		}
		return "/"
	}
	return c.chroot + p
}

// wrap maps go-zookeeper's errors onto this package's and adds the
// operation and Kafka path.
func wrap(op, p string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zk.ErrNoNode):
		return fmt.Errorf("%s %s: %w", op, p, ErrNoNode)
	case errors.Is(err, zk.ErrBadVersion):
		return fmt.Errorf("%s %s: %w", op, p, ErrBadVersion)
	default:
		return fmt.Errorf("%s %s: %w", op, p, err)
	}
}

type getResult struct {
	data []byte
	stat *zk.Stat
}

func (c *Client) get(ctx context.Context, p string) ([]byte, *zk.Stat, error) {
	var r getResult
	err := c.retrying(ctx, func() (err error) {
		r, err = call(ctx, func() (getResult, error) {
			d, s, err := c.conn.Get(c.abs(p))
			return getResult{d, s}, err
		})
		return err
	})
	return r.data, r.stat, err
}

func (c *Client) children(ctx context.Context, p string) ([]string, error) {
	var names []string
	err := c.retrying(ctx, func() (err error) {
		names, err = call(ctx, func() ([]string, error) {
			ch, _, err := c.conn.Children(c.abs(p))
			return ch, err
		})
		return err
	})
	return names, err
}

func (c *Client) exists(ctx context.Context, p string) (*zk.Stat, error) {
	var stat *zk.Stat
	err := c.retrying(ctx, func() (err error) {
		stat, err = call(ctx, func() (*zk.Stat, error) {
			ok, s, err := c.conn.Exists(c.abs(p))
			if err == nil && !ok {
				return nil, zk.ErrNoNode
			}
			return s, err
		})
		return err
	})
	return stat, err
}

func (c *Client) create(ctx context.Context, p string, data []byte, flags int32) error {
	_, err := call(ctx, func() (string, error) {
		return c.conn.Create(c.abs(p), data, flags, openACL)
	})
	return err
}

func (c *Client) set(ctx context.Context, p string, data []byte, version int32) (*zk.Stat, error) {
	return call(ctx, func() (*zk.Stat, error) {
		return c.conn.Set(c.abs(p), data, version)
	})
}

func (c *Client) multi(ctx context.Context, ops ...any) ([]zk.MultiResponse, error) {
	return call(ctx, func() ([]zk.MultiResponse, error) {
		return c.conn.Multi(ops...)
	})
}

type watchResult struct {
	names []string
	ev    <-chan zk.Event
}

func (c *Client) childrenW(ctx context.Context, p string) ([]string, <-chan zk.Event, error) {
	var r watchResult
	err := c.retrying(ctx, func() (err error) {
		r, err = call(ctx, func() (watchResult, error) {
			ch, _, ev, err := c.conn.ChildrenW(c.abs(p))
			return watchResult{ch, ev}, err
		})
		return err
	})
	return r.names, r.ev, err
}

// Multi operations with Kafka paths.

func (c *Client) opCreate(p string, data []byte, flags int32) *zk.CreateRequest {
	return &zk.CreateRequest{Path: c.abs(p), Data: data, Acl: openACL, Flags: flags}
}

func (c *Client) opSet(p string, data []byte, version int32) *zk.SetDataRequest {
	return &zk.SetDataRequest{Path: c.abs(p), Data: data, Version: version}
}

func (c *Client) opDelete(p string, version int32) *zk.DeleteRequest {
	return &zk.DeleteRequest{Path: c.abs(p), Version: version}
}

func (c *Client) opCheck(p string, version int32) *zk.CheckVersionRequest {
	return &zk.CheckVersionRequest{Path: c.abs(p), Version: version}
}

// opPath is the Kafka path a multi operation acts on, for error messages.
func (c *Client) opPath(op any) string {
	var p string
	switch o := op.(type) {
	case *zk.CreateRequest:
		p = o.Path
	case *zk.SetDataRequest:
		p = o.Path
	case *zk.DeleteRequest:
		p = o.Path
	case *zk.CheckVersionRequest:
		p = o.Path
	}
	if c.chroot != "" {
		p = strings.TrimPrefix(p, c.chroot)
	}
	return p
}

// multiError is the first operation of a failed multi and why it failed.
type multiError struct {
	index int // position in the ops passed to multi
	path  string
	err   error
}

func (e *multiError) Error() string {
	return fmt.Sprintf("multi op %d on %s: %v", e.index, e.path, e.err)
}
func (e *multiError) Unwrap() error { return e.err }

// failedOp finds which operation of a multi failed. ZooKeeper reports the
// real error on the failing operation; operations before it read OK and
// those after it a runtime inconsistency, so the first error is the one.
func (c *Client) failedOp(ops []any, res []zk.MultiResponse, err error) error {
	if err == nil {
		return nil
	}
	for i, r := range res {
		if r.Error != nil && i < len(ops) {
			e := r.Error
			if errors.Is(e, zk.ErrNoNode) {
				e = ErrNoNode
			} else if errors.Is(e, zk.ErrBadVersion) {
				e = ErrBadVersion
			}
			return &multiError{index: i, path: c.opPath(ops[i]), err: fmt.Errorf("%w (%v)", e, r.Error)}
		}
	}
	return fmt.Errorf("multi: %w", err)
}

// fenced runs ops atomically after checking that /controller_epoch still
// has the zkVersion this controller got when it was elected, as Kafka's
// wrapRequestWithControllerEpochCheck does. A failed check means another
// broker became controller: ErrControllerMoved. Other failures come back as
// a *multiError whose index counts ops from 0 (the check is not counted).
func (c *Client) fenced(ctx context.Context, ce ControllerEpoch, ops ...any) ([]zk.MultiResponse, error) {
	all := append([]any{c.opCheck(controllerEpochPath, ce.ZkVersion)}, ops...)
	res, err := c.multi(ctx, all...)
	if err == nil {
		return res[1:], nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	ferr := c.failedOp(all, res, err)
	var me *multiError
	if errors.As(ferr, &me) {
		if me.index == 0 {
			return nil, fmt.Errorf("controller epoch %d (zkVersion %d) is no longer current: %w", ce.Epoch, ce.ZkVersion, ErrControllerMoved)
		}
		me.index--
		return nil, me
	}
	return nil, ferr
}

// ensurePath creates p and its missing parents with empty data, ignoring
// znodes that already exist (Kafka's makeSurePersistentPathExists).
func (c *Client) ensurePath(ctx context.Context, p string) error {
	return c.ensureAbs(ctx, c.abs(p))
}

// ensureAbs is ensurePath for a path outside the chroot (the chroot itself).
func (c *Client) ensureAbs(ctx context.Context, abs string) error {
	if abs == "/" || abs == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	cur := ""
	for _, part := range parts {
		cur += "/" + part
		_, err := call(ctx, func() (string, error) {
			return c.conn.Create(cur, nil, 0, openACL)
		})
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", cur, err)
		}
	}
	return nil
}

// connectionLost reports errors after which the request may simply be
// sent again once go-zookeeper has reconnected (Kafka's ZooKeeperClient
// retries CONNECTIONLOSS the same way).
func connectionLost(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrSessionMoved)
}

// retrying runs f again while it fails because the connection was lost,
// for up to one session timeout (after which the session is gone anyway)
// or until ctx ends. Only operations that are safe to repeat use it: reads,
// and writes whose retry recognises its own earlier success (a create that
// finds its own znode, a conditional write that re-reads).
func (c *Client) retrying(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(c.sessionTimeout)
	bo := backoff.Exponential{Initial: 50 * time.Millisecond, Max: time.Second}
	for {
		if c.ctx.Err() != nil {
			return ErrClosed
		}
		err := f()
		if err != nil && c.ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", ErrClosed, err)
		}
		if err == nil || !connectionLost(err) || ctx.Err() != nil || !time.Now().Before(deadline) {
			return err
		}
		c.log.Debug("ZooKeeper connection lost during a request; retrying", zap.Error(err))
		if bo.Wait(ctx) != nil {
			return err
		}
	}
}
