package perftest

import (
	"fmt"
	"strings"

	"github.com/gokafka/gokafka/internal/javaprops"
)

// loadPropertiesFile reads a Java properties file, the format of Kafka's
// --producer.config and --consumer.config files, as the broker reads
// server.properties (internal/javaprops).
func loadPropertiesFile(path string) (map[string]string, error) {
	return javaprops.ReadFile(path)
}

// parseAssignments parses "key=value" arguments (--producer-props). Like
// Kafka's tool it rejects an argument without exactly one '='; unlike it, a
// value may itself contain '=' when the key is followed by one (we split at
// the first), since SASL JAAS values need it.
func parseAssignments(args []string) (map[string]string, error) {
	props := make(map[string]string, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid property: %q (want key=value)", a)
		}
		props[k] = v
	}
	return props, nil
}
