package compattests

import (
	"bytes"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// runConfigs runs `gokafka configs` with args and returns its stdout,
// stderr and exit code.
func runConfigs(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(testCtx(t), testcluster.Binary(t), append([]string{"configs"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run gokafka configs: %v", err)
	}
	return out.String(), errOut.String(), code
}

// TestConfigsTool drives `gokafka configs` as kafka-configs.sh is used:
// alter a topic and the broker default, describe them (dynamic only and
// --all), delete a key, and the errors of an unknown key and of deleting
// a key that is not set; the output is compared with Kafka 3.9's format.
func TestConfigsTool(t *testing.T) {
	_, b := startBroker(t, map[string]string{"log.retention.hours": "24"})
	createTopic(t, newAdmin(t, b), "cfg", 1, nil)
	bs := []string{"--bootstrap-server", b.Addr()}
	id := strconv.Itoa(int(b.ID))
	steps := []struct {
		name    string
		args    []string
		code    int
		stdout  string // exact, unless contains is set
		stderr  string // substring
		partial bool   // stdout is a substring
	}{
		{"add topic configs", append(bs, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--add-config", "retention.ms=1000,cleanup.policy=[compact,delete]"), 0,
			"Completed updating config for topic cfg.\n", "", false},
		{"describe topic", append(bs, "--entity-type", "topics", "--entity-name", "cfg", "--describe"), 0,
			"Dynamic configs for topic cfg are:\n" +
				"  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}\n" +
				"  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}\n",
			"", false},
		{"describe topic --all", append(bs, "--entity-type", "topics", "--entity-name", "cfg", "--describe", "--all"), 0,
			"  segment.bytes=1073741824 sensitive=false synonyms={DEFAULT_CONFIG:log.segment.bytes=1073741824}\n", "", true},
		{"delete a topic config", append(bs, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--delete-config", "cleanup.policy"), 0,
			"Completed updating config for topic cfg.\n", "", false},
		{"delete an unset config", append(bs, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--delete-config", "segment.ms"), 1,
			"", "InvalidConfigurationException: Invalid config(s): segment.ms", false},
		{"unknown topic key", append(bs, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--add-config", "retention.msx=1"), 1,
			"", "org.apache.kafka.common.errors.InvalidConfigurationException: Unknown topic config name: retention.msx", false},
		{"bad value", append(bs, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--add-config", "retention.ms=x"), 1,
			"", "InvalidRequestException: Invalid config value for resource ConfigResource(type=TOPIC, name='cfg'): Invalid value x for configuration retention.ms: Not a number of type LONG", false},
		{"alter the broker default", append(bs, "--entity-type", "brokers", "--entity-default", "--alter", "--add-config", "log.retention.ms=5000"), 0,
			"Completed updating default config for brokers in the cluster.\n", "", false},
		{"alter the broker", append(bs, "--entity-type", "brokers", "--entity-name", id, "--alter", "--add-config", "message.max.bytes=2000000"), 0,
			"Completed updating config for broker " + id + ".\n", "", false},
		{"read-only broker key", append(bs, "--entity-type", "brokers", "--entity-name", id, "--alter", "--add-config", "log.dirs=/x"), 1,
			"", "Cannot update these configs dynamically: Set(log.dirs)", false},
		{"describe the broker default", append(bs, "--entity-type", "brokers", "--entity-default", "--describe"), 0,
			"Default configs for brokers in the cluster are:\n" +
				"  log.retention.ms=5000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=5000}\n",
			"", false},
		{"describe the broker", append(bs, "--entity-type", "brokers", "--entity-name", id, "--describe"), 0,
			"Dynamic configs for broker " + id + " are:\n" +
				"  message.max.bytes=2000000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:message.max.bytes=2000000, DEFAULT_CONFIG:message.max.bytes=1048588}\n",
			"", false},
		{"describe every broker", append(bs, "--entity-type", "brokers", "--describe"), 0,
			"Dynamic configs for broker " + id + " are:\n" +
				"  message.max.bytes=2000000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:message.max.bytes=2000000, DEFAULT_CONFIG:message.max.bytes=1048588}\n" +
				"Default configs for brokers in the cluster are:\n" +
				"  log.retention.ms=5000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=5000}\n",
			"", false},
		{"topic now inherits the default", append(bs, "--entity-type", "topics", "--entity-name", "cfg", "--describe", "--all"), 0,
			"  max.message.bytes=2000000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:message.max.bytes=2000000, DEFAULT_CONFIG:message.max.bytes=1048588}\n", "", true},
	}
	for _, s := range steps {
		out, errOut, code := runConfigs(t, s.args...)
		okOut := out == s.stdout || (s.partial && strings.Contains(out, s.stdout))
		if code != s.code || !okOut || !strings.Contains(errOut, s.stderr) {
			t.Errorf("%s: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout:\n%s\nstderr with %q", s.name, code, out, errOut, s.code, s.stdout, s.stderr)
		}
	}
}
