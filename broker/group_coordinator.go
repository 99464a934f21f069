package broker

import (
	"context"
	"fmt"
	"net"
	"time"
	"unicode/utf16"

	"github.com/gokafka/gokafka/groupcoord"
	"github.com/gokafka/gokafka/wire"
	"go.uber.org/zap"
)

// startGroupCoordinator builds the consumer-group coordinator from the
// group.* and offsets.* keys, storing offsets in ZooKeeper. It owns the
// groups that coordinatorFor maps to this broker.
func (s *Server) startGroupCoordinator() error {
	// Zero fields take groupcoord's (Kafka's) defaults, which is what a
	// Config built without LoadConfig wants; from server.properties, 0 is
	// a real setting, mapped to groupcoord's spelling of it.
	minSession := s.cfg.GroupMinSessionTimeout
	if minSession == 0 && s.cfg.GroupMaxSessionTimeout > 0 {
		minSession = time.Nanosecond
	}
	cfg := groupcoord.Config{
		MinSessionTimeout:             minSession,
		MaxSessionTimeout:             s.cfg.GroupMaxSessionTimeout,
		MaxGroupSize:                  int(s.cfg.GroupMaxSize),
		InitialRebalanceDelay:         s.cfg.GroupInitialRebalanceDelay,
		OffsetsRetention:              s.cfg.OffsetsRetention,
		OffsetsRetentionCheckInterval: s.cfg.OffsetsRetentionCheckInterval,
		OffsetMetadataMaxBytes:        int(s.cfg.OffsetMetadataMaxBytes),
		Logger:                        s.logger.Named("groups"),
		Store:                         zkOffsetStore{s.zk},
		TxnStore:                      zkOffsetStore{s.zk},
		Owns:                          s.ownsGroup,
	}
	if s.cfg.GroupInitialRebalanceDelay == 0 && s.cfg.GroupMaxSessionTimeout > 0 {
		cfg.InitialRebalanceDelay = -1 // groupcoord's "no delay"
	}
	g, err := groupcoord.New(cfg)
	if err != nil {
		return fmt.Errorf("start group coordinator: %w", err)
	}
	s.groups = g
	return nil
}

// coordinatorFor is the broker that coordinates group: Kafka hashes the
// group id onto the partitions of __consumer_offsets
// (abs(String.hashCode) % offsets.topic.num.partitions); gokafka keeps
// offsets in ZooKeeper instead, so the same hash picks one of the live
// brokers sorted by id. When a broker dies the live set shrinks and its
// groups move; their offsets are in ZooKeeper for the new coordinator.
func (s *Server) coordinatorFor(group string) int32 {
	live := s.liveBrokerIDs()
	return live[int(javaStringHash(group)&0x7fffffff)%len(live)]
}

// ownsGroup is groupcoord's Owns hook.
func (s *Server) ownsGroup(group string) bool {
	return s.coordinatorFor(group) == s.cfg.BrokerID
}

// javaStringHash is Java's String.hashCode: s[0]*31^(n-1) + ... over the
// UTF-16 code units, in wrapping 32-bit arithmetic.
func javaStringHash(str string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(str)) {
		h = 31*h + int32(u)
	}
	return h
}

// unloadMovedGroups drops the groups whose coordinator is no longer this
// broker after the set of live brokers changed; their members find the new
// coordinator (NOT_COORDINATOR) and rejoin there.
func (s *Server) unloadMovedGroups() {
	if s.groups == nil {
		return
	}
	for _, g := range s.groups.UnloadMoved() {
		s.logger.Info("group moved to another coordinator", zap.String("group", g), zap.Int32("coordinator", s.coordinatorFor(g)))
	}
}

// clientInfo is the JoinGroup caller as DescribeGroups reports it: the
// header's client.id and the peer address with Kafka's leading slash.
func clientInfo(ctx context.Context, hdr *wire.RequestHeader) groupcoord.ClientInfo {
	var ci groupcoord.ClientInfo
	if hdr.ClientID != nil {
		ci.ID = *hdr.ClientID
	}
	if a, ok := ctx.Value(remoteAddrKey{}).(net.Addr); ok && a != nil {
		host := a.String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		ci.Host = "/" + host
	}
	return ci
}
