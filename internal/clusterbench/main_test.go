package clusterbench

import (
	"fmt"
	"os"
	"testing"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// TestMain runs the benchmarks on testcluster's shared ZooKeeper (each
// benchmark in its own chroot, with its own three brokers), then writes the
// section into BENCH_CLUSTER_OUT when it is set and a benchmark ran.
func TestMain(m *testing.M) {
	code := testcluster.Run(m)
	if path := os.Getenv("BENCH_CLUSTER_OUT"); path != "" && !report.empty() {
		if err := report.writeReport(path); err != nil {
			fmt.Fprintf(os.Stderr, "clusterbench: %v\n", err)
			code = max(code, 1)
		} else {
			fmt.Fprintf(os.Stderr, "clusterbench: wrote %q into %s\n", sectionTitle, path)
		}
	}
	os.Exit(code)
}
