package zktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// JavaDir is where Debian installs jars; ZooKeeperJar is the server jar of
// Debian's zookeeper package (its manifest lists its runtime dependencies).
const (
	JavaDir      = "/usr/share/java"
	ZooKeeperJar = JavaDir + "/zookeeper.jar"
	confDir      = "/etc/zookeeper/conf"
)

// companionJars are added to the classpath when present. zookeeper.jar's
// manifest already names jute, netty, slf4j-api and metrics, but listing
// them keeps the classpath working with jars that lack the manifest entry;
// slf4j-simple is the logging binding (without one ZooKeeper logs nothing).
var companionJars = []string{
	"zookeeper-jute.jar",
	"slf4j-api.jar",
	"slf4j-simple.jar",
	"netty-buffer.jar",
	"netty-codec.jar",
	"netty-common.jar",
	"netty-handler.jar",
	"netty-resolver.jar",
	"netty-transport.jar",
	"netty-transport-native-unix-common.jar",
	"netty-transport-native-epoll.jar",
	"metrics-core.jar",
	"commons-cli.jar",
}

// Classpath returns the JVM classpath for ZooKeeper's server, or an error
// that says what to install when java or the zookeeper jar is missing. The
// environment variable ZOOKEEPER_CLASSPATH replaces the derived classpath
// (a list separated by ':') for installations outside Debian's layout.
func Classpath() ([]string, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("java not found in PATH (install Debian's zookeeper package: apt-get install zookeeper): %w", err)
	}
	if env := os.Getenv("ZOOKEEPER_CLASSPATH"); env != "" {
		return filepath.SplitList(env), nil
	}
	if _, err := os.Stat(ZooKeeperJar); err != nil {
		return nil, fmt.Errorf("zookeeper server jar missing (install Debian's zookeeper package: apt-get install zookeeper, or set ZOOKEEPER_CLASSPATH): %w", err)
	}
	var cp []string
	if fi, err := os.Stat(confDir); err == nil && fi.IsDir() {
		cp = append(cp, confDir)
	}
	cp = append(cp, ZooKeeperJar)
	for _, j := range companionJars {
		p := filepath.Join(JavaDir, j)
		if _, err := os.Stat(p); err == nil {
			cp = append(cp, p)
		}
	}
	if !hasPrefix(cp, "slf4j-simple") {
		// Without a binding ZooKeeper still runs, only silently.
		fmt.Fprintln(os.Stderr, "zktest: slf4j-simple.jar not found; zookeeper.log will be empty")
	}
	return cp, nil
}

func hasPrefix(cp []string, base string) bool {
	for _, p := range cp {
		if strings.HasPrefix(filepath.Base(p), base) {
			return true
		}
	}
	return false
}
