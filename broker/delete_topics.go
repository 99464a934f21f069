package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// handleDeleteTopics deletes topics by name (v0-6) or topic id (v6):
// mark /admin/delete_topics/<t> as Kafka's tools and API do, then, as the
// controller, delete the local logs and the topic's znodes, and answer
// once the topic is gone (Kafka's DelayedDeleteTopics waits the same way).
func (s *Server) handleDeleteTopics(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.DeleteTopicsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	resp.Version = r.Version

	reqs := r.Topics
	if r.Version < 6 {
		reqs = make([]kmsg.DeleteTopicsRequestTopic, len(r.TopicNames))
		for i := range r.TopicNames {
			reqs[i] = kmsg.DeleteTopicsRequestTopic{Topic: &r.TopicNames[i]}
		}
	}
	seen := make(map[string]int)
	for _, t := range reqs {
		if t.Topic != nil {
			seen[*t.Topic]++
		}
	}
	for _, t := range reqs {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic = t.Topic
		rt.TopicID = t.TopicID
		fail := func(code int16, msg string) {
			rt.ErrorCode = code
			rt.ErrorMessage = strPtr(msg)
		}
		name := ""
		switch {
		case t.Topic != nil && t.TopicID != ([16]byte{}):
			fail(kerr.InvalidRequest.Code, "Topic name and topic id cannot both be set.")
		case t.Topic == nil:
			n, ok := s.meta.topicNameByID(t.TopicID)
			if !ok {
				fail(kerr.UnknownTopicID.Code, "This server does not host this topic ID.")
				break
			}
			name = n
			rt.Topic = strPtr(n)
		case seen[*t.Topic] > 1:
			fail(kerr.InvalidRequest.Code, "Duplicate topic name.")
		default:
			name = *t.Topic
		}
		if rt.ErrorCode == 0 {
			s.deleteOneTopic(ctx, name, &rt, r.TimeoutMillis, fail)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func (s *Server) deleteOneTopic(ctx context.Context, name string, rt *kmsg.DeleteTopicsResponseTopic, timeoutMs int32, fail func(int16, string)) {
	if !s.cfg.DeleteTopicEnable {
		fail(kerr.TopicDeletionDisabled.Code, "Topic deletion is disabled.")
		return
	}
	if s.leadershipFenced() || !s.isController() {
		fail(kerr.NotController.Code, "This is not the correct controller for this cluster.")
		return
	}
	tm, ok := s.meta.topic(name)
	if !ok {
		fail(kerr.UnknownTopicOrPartition.Code, "This server does not host this topic-partition.")
		return
	}
	rt.TopicID = tm.ID
	if err := s.zk.MarkTopicForDeletion(ctx, name); err != nil && !errors.Is(err, zkmeta.ErrTopicExists) {
		s.logger.Warn("mark topic for deletion", zap.String("topic", name), zap.Error(err))
	}
	// The controller carries the deletion out (StopReplica with delete,
	// then the znodes); answer once the topic is gone from this broker's
	// metadata, as Kafka's DelayedDeleteTopics does, or REQUEST_TIMED_OUT.
	wctx, cancel := requestTimeout(ctx, timeoutMs)
	defer cancel()
	if err := s.waitTopic(wctx, name, -1); err != nil {
		fail(kerr.RequestTimedOut.Code, fmt.Sprintf("Topic %s is marked for deletion but not deleted yet.", name))
		return
	}
	// Then until its znodes are gone (every replica deleted its log), so
	// that the name can be used again at once.
	for {
		_, err := s.zk.Topic(wctx, name)
		if errors.Is(err, zkmeta.ErrNoNode) {
			return
		}
		if sleepCtx(wctx, 20*time.Millisecond) != nil {
			fail(kerr.RequestTimedOut.Code, fmt.Sprintf("Topic %s is deleted from the metadata but a replica has not deleted its log yet.", name))
			return
		}
	}
}
