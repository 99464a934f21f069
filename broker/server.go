package broker

import (
	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"go.uber.org/zap"
)

// Server is one gokafka broker.
type Server struct {
	cfg    Config
	logger *zap.Logger

	zk        *zkmeta.Client
	dirs      *storage.Dirs
	clusterID string

	// controllerEpoch is this broker's won controller election; a single
	// broker is always its own controller.
	controllerEpoch zkmeta.ControllerEpoch

	meta     *metadataCache
	replicas *replicaManager
	pids     *producerIDs

	versions wire.Versions
}
