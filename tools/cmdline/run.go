package cmdline

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
)

// KafkaVersion is the Apache Kafka release whose tools gokafka's mirror;
// --version prints it, as the stock tools print their release.
const KafkaVersion = "3.9.0"

// Version describes this build for `gokafka version`: the module version
// or VCS revision the binary was built from, and the Kafka release it
// mirrors.
func Version() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		return fmt.Sprintf("gokafka %s (Apache Kafka %s compatible, %s)", v, KafkaVersion, bi.GoVersion)
	}
	return fmt.Sprintf("gokafka %s (Apache Kafka %s compatible)", v, KafkaVersion)
}

// ErrReported fails a command whose messages were already printed: Main
// exits 1 without printing more.
var ErrReported = errors.New("failure already reported")

// Main parses args for t and calls run, turning the outcome into the
// stock tools' behaviour: --help prints the usage to stdout and exits 0,
// --version prints the Kafka release, a UsageError prints its message and
// the usage to stderr and exits 1, any other error prints its message to
// stderr and exits 1. run writes its data to stdout itself.
func Main(t *Tool, args []string, stdout, stderr io.Writer, run func(Values) error) int {
	v, err := t.Parse(args)
	if err == nil && len(args) == 0 {
		err = &UsageError{Msg: t.Description}
	}
	if err == nil {
		err = run(v)
	}
	var ue *UsageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrHelp):
		t.PrintUsage(stdout)
		return 0
	case errors.Is(err, ErrVersion):
		fmt.Fprintln(stdout, KafkaVersion)
		return 0
	case errors.Is(err, ErrReported):
		return 1
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, ue.Msg)
		t.PrintUsage(stderr)
		return 1
	}
	fmt.Fprintln(stderr, err)
	return 1
}
