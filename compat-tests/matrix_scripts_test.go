package compattests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The matrix's clients that are not Go: kcat (librdkafka's command line),
// the two Python clients of Debian's python3 and kafkajs from npm, each
// driven by a script under testdata/ or node/ that prints the matrix's lines.

// kafkajsDir holds node/package.json; .ci/run installs its node_modules
// with `npm ci`.
const kafkajsDir = "node"

// runLines runs a command with stdin and returns its stdout as lines, or
// an error carrying its stderr.
func runLines(ctx context.Context, stdin, name string, args ...string) ([]string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var lines []string
	if s := strings.TrimRight(out.String(), "\n"); s != "" {
		lines = strings.Split(s, "\n")
	}
	if err != nil {
		return lines, fmt.Errorf("%s %s: %w\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, errOut.String())
	}
	return lines, nil
}

// missingCommand says why path cannot run ("" when it can).
func missingCommand(path, pkg string) string {
	if _, err := exec.LookPath(path); err != nil {
		return fmt.Sprintf("%s is missing: install Debian's %s (.ci/run does)", path, pkg)
	}
	return ""
}

// missingPythonModule says why Debian's python3 cannot import module.
func missingPythonModule(module, pkg string) string {
	if why := missingCommand(systemPython, "python3"); why != "" {
		return why
	}
	if out, err := exec.Command(systemPython, "-c", "import "+module).CombinedOutput(); err != nil {
		return fmt.Sprintf("python module %s is missing for %s: install Debian's %s (.ci/run does): %s", module, systemPython, pkg, bytes.TrimSpace(out))
	}
	return ""
}

// pythonMatrixClient runs testdata/<script> with Debian's python3.
func pythonMatrixClient(name, module, pkg, script string, lacks, produceOnly map[string]string) matrixClient {
	return matrixClient{
		name:        name,
		absent:      func() string { return missingPythonModule(module, pkg) },
		lacks:       lacks,
		produceOnly: produceOnly,
		run: func(ctx context.Context, c matrixCase) ([]string, error) {
			return runLines(ctx, "", systemPython, filepath.Join("testdata", script), c.Addr, c.Feature, c.Topic, c.Group)
		},
	}
}

// confluentMatrixClient is confluent-kafka-python (librdkafka) from Debian's
// python3-confluent-kafka.
func confluentMatrixClient() matrixClient {
	cl := pythonMatrixClient("confluent-kafka-python", "confluent_kafka", "python3-confluent-kafka", "matrix_confluent.py", nil, nil)
	cl.notes = map[string]string{
		"list-groups-offsets": "groups from AdminClient.list_groups, offsets from Consumer.committed: " +
			"1.7 has no AdminClient.list_consumer_group_offsets",
		"alter-configs": "AdminClient.alter_configs (AlterConfigs: 1.7 has no incremental variant)",
	}
	return cl
}

// kafkaPythonMatrixClient is kafka-python from Debian's python3-kafka; its
// snappy, lz4 and zstd codecs need python3-snappy, python3-lz4 and
// python3-zstandard.
func kafkaPythonMatrixClient() matrixClient {
	return pythonMatrixClient("kafka-python", "kafka", "python3-kafka", "matrix_kafka_python.py", map[string]string{
		"idempotent": "kafka-python 2.0 has no idempotent producer",
	}, map[string]string{
		"zstd": "kafka-python 2.0 fetches with Fetch v4, and zstd batches need v10 (KIP-110): " +
			"Kafka and gokafka answer UNSUPPORTED_COMPRESSION_TYPE (76), which kafka-python 2.0 takes for an unknown error and refetches forever",
	})
}

// kafkajsMatrixClient is kafkajs from npm, under node/, with the
// kafkajs-snappy codec and lz4 and zstd codecs of node/matrix.js (on lz4js
// and @bokuweb/zstd-wasm).
func kafkajsMatrixClient() matrixClient {
	return matrixClient{
		name: "kafkajs",
		absent: func() string {
			if why := missingCommand("node", "nodejs"); why != "" {
				return why
			}
			if _, err := os.Stat(filepath.Join(kafkajsDir, "node_modules", "kafkajs", "package.json")); err != nil {
				return fmt.Sprintf("kafkajs is not installed: run `npm ci --ignore-scripts --prefix compat-tests/%s` (.ci/run does)", kafkajsDir)
			}
			return ""
		},
		notes: map[string]string{
			"snappy": "kafkajs ships only gzip: snappy through the kafkajs-snappy codec",
			"lz4":    "kafkajs ships only gzip: lz4 through a codec on lz4js, in node/matrix.js",
			"zstd":   "kafkajs ships only gzip: zstd through a codec on @bokuweb/zstd-wasm, in node/matrix.js",
		},
		run: func(ctx context.Context, c matrixCase) ([]string, error) {
			return runLines(ctx, "", "node", filepath.Join(kafkajsDir, "matrix.js"), c.Addr, c.Feature, c.Topic, c.Group)
		},
	}
}

// kcatMatrixClient is Debian's kcat (librdkafka); it has no admin API.
func kcatMatrixClient() matrixClient {
	noAdmin := "kcat has no admin commands"
	return matrixClient{
		name:   "kcat",
		absent: func() string { return missingCommand(kcatPath, "kcat") },
		lacks: map[string]string{
			"create-delete-topics": noAdmin, "list-groups-offsets": noAdmin,
			"describe-configs": noAdmin, "alter-configs": noAdmin,
			"timestamps": "kcat -P cannot set a record's timestamp",
		},
		run: runKcat,
	}
}

// kcatLineFormat prints a consumed message as a matrix line (no timestamp:
// kcat's timestamps cell is skipped).
const kcatLineFormat = `%o|%k|%s|%h|\n`

func runKcat(ctx context.Context, c matrixCase) ([]string, error) {
	kc := func(stdin string, args ...string) ([]string, error) {
		kctx, cancel := context.WithTimeout(ctx, kcatTimeout)
		defer cancel()
		return runLines(kctx, stdin, kcatPath, append([]string{"-b", c.Addr}, args...)...)
	}
	consume := func(offset string, n int) ([]string, error) {
		return kc("", "-C", "-t", c.Topic, "-p", "0", "-o", offset, "-c", strconv.Itoa(n), "-e", "-q", "-f", kcatLineFormat)
	}
	group := func(n int) ([]string, error) {
		return kc("", "-G", c.Group, "-X", "auto.offset.reset=earliest", "-c", strconv.Itoa(n), "-q", "-f", kcatLineFormat, c.Topic)
	}
	switch f := c.Feature; {
	case f == "metadata":
		out, err := kc("", "-L", "-J", "-t", c.Topic)
		if err != nil {
			return nil, err
		}
		var md kcatMetadata
		if err := json.Unmarshal([]byte(strings.Join(out, "\n")), &md); err != nil {
			return nil, fmt.Errorf("kcat -L -J: %w", err)
		}
		var lines []string
		for _, b := range md.Brokers {
			lines = append(lines, fmt.Sprintf("broker %d %s", b.ID, b.Name))
		}
		for _, tp := range md.Topics {
			for _, p := range tp.Partitions {
				lines = append(lines, fmt.Sprintf("partition %s %d leader %d", tp.Topic, p.Partition, p.Leader))
			}
		}
		return lines, nil
	case isProduceFeature(f):
		args := []string{"-P", "-t", c.Topic, "-p", "0", "-K", "\t", "-X", "linger.ms=5"}
		if _, ok := matrixCodecs[f]; ok {
			args = append(args, "-z", f)
		}
		if f == "idempotent" {
			args = append(args, "-X", "enable.idempotence=true")
		}
		// -H applies to every message of a run: one run per record when
		// each record has its own header.
		var runs [][]int
		if f == "headers" {
			for i := range matrixProduced {
				runs = append(runs, []int{i})
			}
		} else {
			runs = append(runs, nil)
			for i := range matrixProduced {
				runs[0] = append(runs[0], i)
			}
		}
		for _, run := range runs {
			var in strings.Builder
			runArgs := args
			for _, i := range run {
				r := matrixRecord(c.Topic, f, i)
				fmt.Fprintf(&in, "%s\t%s\n", r.Key, r.Value)
				for _, h := range r.Headers {
					runArgs = append(runArgs, "-H", h.Key+"="+string(h.Value))
				}
			}
			if _, err := kc(in.String(), runArgs...); err != nil {
				return nil, err
			}
		}
		return consume("beginning", matrixProduced)
	case f == "from-offset":
		return consume(strconv.Itoa(matrixFromOffset), matrixPrepared-matrixFromOffset)
	case f == "from-timestamp":
		return consume(fmt.Sprintf("s@%d", matrixTimestamp(matrixFromOffset)-500), matrixPrepared-matrixFromOffset)
	case f == "group-commit-resume":
		first, err := group(matrixGroupFirst)
		if err != nil {
			return first, err
		}
		second, err := group(1)
		return append(first, second...), err
	}
	return nil, errors.New("kcat: no such feature " + c.Feature)
}
