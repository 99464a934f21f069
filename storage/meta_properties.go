package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/gokafka/gokafka/internal/javaprops"
	"github.com/gokafka/gokafka/storage/vfs"
)

// metaPropertiesFile identifies the broker and cluster a log dir belongs to.
// In ZooKeeper mode Kafka writes version=0 with broker.id and cluster.id, as
// a java.util.Properties file whose first lines are comments (an empty one
// and the date).
const metaPropertiesFile = "meta.properties"

// ErrInconsistentMeta is returned by OpenDirs when a log dir belongs to
// another broker or cluster (Kafka's InconsistentBrokerIdException and
// InconsistentClusterIdException).
var ErrInconsistentMeta = errors.New("log dir belongs to another broker or cluster")

// metaProperties is the content of meta.properties.
type metaProperties struct {
	version   int
	brokerID  int32
	clusterID string
}

// encode renders the file as Java's Properties.store would, comments first.
func (m metaProperties) encode(now time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("#\n")
	b.WriteString("#" + now.UTC().Format("Mon Jan 02 15:04:05 MST 2006") + "\n")
	fmt.Fprintf(&b, "version=%d\n", m.version)
	fmt.Fprintf(&b, "broker.id=%d\n", m.brokerID)
	fmt.Fprintf(&b, "cluster.id=%s\n", m.clusterID)
	return b.Bytes()
}

// readMetaProperties reads <dir>/meta.properties; ok is false when missing.
func readMetaProperties(fsys vfs.FS, dir string) (m metaProperties, ok bool, err error) {
	path := dir + string(os.PathSeparator) + metaPropertiesFile
	data, err := vfs.ReadFile(fsys, path)
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("read %s: %w", path, err)
	}
	p, err := javaprops.Parse(data)
	if err != nil {
		return m, false, fmt.Errorf("%s: %w: %w", path, err, ErrCorruption)
	}
	if v, err := strconv.Atoi(p["version"]); err != nil || v != 0 {
		return m, false, fmt.Errorf("%s: version %q, want 0 (ZooKeeper mode): %w", path, p["version"], ErrCorruption)
	}
	id, err := strconv.ParseInt(p["broker.id"], 10, 32)
	if err != nil {
		return m, false, fmt.Errorf("%s: broker.id %q: %w", path, p["broker.id"], ErrCorruption)
	}
	return metaProperties{version: 0, brokerID: int32(id), clusterID: p["cluster.id"]}, true, nil
}
