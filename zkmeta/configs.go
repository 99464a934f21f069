package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// Dynamic configuration znodes (KIP-226, ZkData's ConfigEntityZNode and
// ConfigEntityChangeNotificationZNode).
const (
	configChangesPath = "/config/changes"
	// configChangePrefix names the sequential notification znodes; ZooKeeper
	// appends a 10-digit sequence number.
	configChangePrefix = "config_change_"
	// ConfigTypeTopics and ConfigTypeBrokers are the entity types gokafka
	// writes (ConfigType.Topic, ConfigType.Broker).
	ConfigTypeTopics  = "topics"
	ConfigTypeBrokers = "brokers"
	// DefaultEntity is the entity name of the cluster-wide default
	// (ConfigEntityName.Default), stored literally: /config/brokers/<default>.
	DefaultEntity = "<default>"
	// ConfigChangeExpiry is how old a notification must be before a broker
	// deletes it (ZkNodeChangeNotificationListener's changeExpirationMs).
	ConfigChangeExpiry = 15 * time.Minute
)

func entityConfigPath(entityType, name string) string {
	return "/config/" + entityType + "/" + name
}

// validEntity refuses names that are not one znode (a '/' would reach
// another path) for the types gokafka writes.
func validEntity(entityType, name string) error {
	switch entityType {
	case ConfigTypeTopics:
		return validTopicName(name)
	case ConfigTypeBrokers:
		if name == DefaultEntity {
			return nil
		}
		if _, err := strconv.ParseInt(name, 10, 32); err != nil {
			return fmt.Errorf("broker config entity %q: not a broker id or %s", name, DefaultEntity)
		}
		return nil
	}
	return fmt.Errorf("config entity type %q not supported", entityType)
}

// EntityConfig reads /config/<type>/<name> ({"version":1,"config":{...}});
// a missing znode is an empty map, as Kafka's fetchEntityConfig returns.
func (c *Client) EntityConfig(ctx context.Context, entityType, name string) (map[string]string, error) {
	if err := validEntity(entityType, name); err != nil {
		return nil, err
	}
	p := entityConfigPath(entityType, name)
	data, _, err := c.get(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, wrap("read", p, err)
	}
	return decodeConfig(p, data)
}

// changeNotificationJSON is a version 2 config change notification.
type changeNotificationJSON struct {
	Version    int    `json:"version"`
	EntityPath string `json:"entity_path"`
	// Version 1 fields, still accepted as Kafka accepts them.
	EntityType string `json:"entity_type,omitempty"`
	EntityName string `json:"entity_name,omitempty"`
}

// SetEntityConfig replaces /config/<type>/<name> with cfg (creating it if
// needed), then creates the sequential notification
// /config/changes/config_change_<seq> = {"version":2,"entity_path":"<type>/<name>"}
// that makes every broker re-read the entity, as Kafka's
// AdminZkClient.changeEntityConfig does. The two writes are not atomic in
// Kafka either: a crash between them leaves the change unannounced until
// brokers restart (they read all entities at start).
func (c *Client) SetEntityConfig(ctx context.Context, entityType, name string, cfg map[string]string) error {
	if err := validEntity(entityType, name); err != nil {
		return err
	}
	p := entityConfigPath(entityType, name)
	data := encodeConfig(cfg)
	err := c.retrying(ctx, func() error {
		_, err := c.set(ctx, p, data, -1)
		if errors.Is(err, zk.ErrNoNode) {
			err = c.create(ctx, p, data, 0)
			if errors.Is(err, zk.ErrNodeExists) {
				_, err = c.set(ctx, p, data, -1)
			}
		}
		return err
	})
	if err != nil {
		return wrap("write", p, err)
	}
	note, _ := json.Marshal(changeNotificationJSON{Version: 2, EntityPath: entityType + "/" + name})
	err = c.retrying(ctx, func() error {
		_, err := call(ctx, func() (string, error) {
			return c.conn.Create(c.abs(configChangesPath+"/"+configChangePrefix), note, zk.FlagSequence, openACL)
		})
		return err
	})
	if err != nil {
		return wrap("create", configChangesPath+"/"+configChangePrefix, err)
	}
	return nil
}

// ConfigChange is one notification under /config/changes.
type ConfigChange struct {
	// Name is the znode name (config_change_0000000017).
	Name string
	// Seq is its sequence number.
	Seq int64
	// EntityType and EntityName say which entity changed ("topics", "t").
	EntityType, EntityName string
	// Created is the znode's creation time.
	Created time.Time
}

// ConfigChanges lists the notifications with a sequence number above
// after, oldest first, and returns a channel closed when the list changes
// (a child watch, as every broker's DynamicConfigManager keeps). A
// notification that cannot be read or decoded is returned with an empty
// EntityType so the caller can still purge it.
func (c *Client) ConfigChanges(ctx context.Context, after int64) ([]ConfigChange, <-chan struct{}, error) {
	names, ev, err := c.childrenW(ctx, configChangesPath)
	if err != nil {
		return nil, nil, wrap("watch", configChangesPath, err)
	}
	var out []ConfigChange
	for _, n := range names {
		seq, ok := changeSeq(n)
		if !ok || seq <= after {
			continue
		}
		ch := ConfigChange{Name: n, Seq: seq}
		data, stat, err := c.get(ctx, configChangesPath+"/"+n)
		if errors.Is(err, zk.ErrNoNode) {
			continue // purged by another broker meanwhile
		}
		if err != nil {
			return nil, nil, wrap("read", configChangesPath+"/"+n, err)
		}
		ch.Created = time.UnixMilli(stat.Ctime)
		ch.EntityType, ch.EntityName = decodeChange(data)
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, c.fireOnce(ctx, ev), nil
}

// changeSeq parses the sequence number of a config_change_ znode name.
func changeSeq(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, configChangePrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil
}

// decodeChange reads a version 2 ({"entity_path":"topics/t"}) or version 1
// ({"entity_type":"topics","entity_name":"t"}) notification; "" on
// anything else.
func decodeChange(data []byte) (entityType, name string) {
	var v changeNotificationJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return "", ""
	}
	switch v.Version {
	case 1:
		return v.EntityType, v.EntityName
	case 2:
		t, n, ok := strings.Cut(v.EntityPath, "/")
		if !ok {
			return "", ""
		}
		return t, n
	}
	return "", ""
}

// DeleteConfigChange removes one notification (a purge of an expired
// one); a notification already gone is not an error.
func (c *Client) DeleteConfigChange(ctx context.Context, name string) error {
	p := configChangesPath + "/" + name
	err := c.retrying(ctx, func() error {
		_, err := call(ctx, func() (struct{}, error) { return struct{}{}, c.conn.Delete(c.abs(p), -1) })
		return err
	})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return wrap("delete", p, err)
	}
	return nil
}
