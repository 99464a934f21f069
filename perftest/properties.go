package perftest

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// loadPropertiesFile reads a Java properties file (key=value or key: value
// lines; '#' and '!' comments), the format of Kafka's --producer.config and
// --consumer.config files. Line continuations and unicode escapes, which
// client configs do not use in practice, are not supported.
func loadPropertiesFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	defer f.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			// Java treats a bare key as a key with an empty value.
			props[line] = ""
			continue
		}
		k := strings.TrimSpace(line[:i])
		if k == "" {
			return nil, fmt.Errorf("read properties %s:%d: empty key", path, n)
		}
		props[k] = strings.TrimSpace(line[i+1:])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read properties %s: %w", path, err)
	}
	return props, nil
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
