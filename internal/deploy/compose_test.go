package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"go.yaml.in/yaml/v3"

	"github.com/gokafka/gokafka/broker"
)

// repoRoot is the repository's root, seen from this package.
const repoRoot = "../.."

// composeFile is the part of the Compose specification docker-compose.yml
// uses. Extension fields (x-...) hold the YAML anchors the services merge.
type composeFile struct {
	Services   map[string]service `yaml:"services"`
	Volumes    map[string]any     `yaml:"volumes"`
	Extensions map[string]any     `yaml:",inline"`
}

// service is one service, with the keys the file uses; decoding with known
// fields fails on any other, so a new key gets a check here first.
type service struct {
	Image       string            `yaml:"image"`
	Build       string            `yaml:"build"`
	Restart     string            `yaml:"restart"`
	Hostname    string            `yaml:"hostname"`
	DependsOn   []string          `yaml:"depends_on"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Environment map[string]string `yaml:"environment"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for k := range f.Extensions {
		if !strings.HasPrefix(k, "x-") {
			t.Errorf("docker-compose.yml: top-level key %q is neither services, volumes nor an x- extension", k)
		}
	}
	return f
}

// names says whether host names the service on the compose network: its
// service name or its hostname.
func (s service) names(name, host string) bool {
	return host == name || (s.Hostname != "" && host == s.Hostname)
}

// zkNode is one ZooKeeper service: its id and the ensemble it lists.
type zkNode struct {
	service string
	id      int
	// servers maps each ensemble id to its host and client port, from
	// ZOO_SERVERS (server.N=host:quorum:election;clientPort).
	servers map[int]zkServer
}

type zkServer struct {
	host       string
	clientPort int
}

// parseZooServers parses the official image's ZOO_SERVERS.
func parseZooServers(s string) (map[int]zkServer, error) {
	out := map[int]zkServer{}
	for _, f := range strings.Fields(s) {
		key, val, ok := strings.Cut(f, "=")
		idText, isServer := strings.CutPrefix(key, "server.")
		if !ok || !isServer {
			return nil, fmt.Errorf("%q: want server.N=host:quorum:election;clientPort", f)
		}
		id, err := strconv.Atoi(idText)
		if err != nil {
			return nil, fmt.Errorf("%q: server id: %w", f, err)
		}
		addr, client, ok := strings.Cut(val, ";")
		parts := strings.Split(addr, ":")
		if !ok || len(parts) != 3 {
			return nil, fmt.Errorf("%q: want host:quorum:election;clientPort", f)
		}
		port, err := strconv.Atoi(client)
		if err != nil {
			return nil, fmt.Errorf("%q: client port: %w", f, err)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("server.%d listed twice", id)
		}
		out[id] = zkServer{host: parts[0], clientPort: port}
	}
	return out, nil
}

// publishedPorts maps the host ports a service publishes to container
// ports ("host:container"; an address before them is allowed).
func publishedPorts(s service) (map[int]int, error) {
	out := map[int]int{}
	for _, p := range s.Ports {
		parts := strings.Split(p, ":")
		if len(parts) < 2 {
			return nil, fmt.Errorf("port %q publishes no fixed host port", p)
		}
		host, err1 := strconv.Atoi(parts[len(parts)-2])
		ctr, err2 := strconv.Atoi(strings.TrimSuffix(parts[len(parts)-1], "/tcp"))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("port %q: want host:container", p)
		}
		out[host] = ctr
	}
	return out, nil
}

// namedVolume returns the volume name of a "name:/path" mount, and false
// for a bind mount of a host path.
func namedVolume(mount string) (name, target string, named bool) {
	name, target, _ = strings.Cut(mount, ":")
	target, _, _ = strings.Cut(target, ":")
	return name, target, !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "~")
}

// TestComposeFile checks docker-compose.yml for what can rot: every service
// has an image or a build whose context has a Dockerfile; the ZooKeeper
// nodes form one ensemble (unique ZOO_MY_ID, the same ZOO_SERVERS listing
// every node under a name the network resolves); every broker's
// environment, over the image's server.properties and ENV, is a
// configuration the broker's own loader accepts without an unknown or
// ignored key, with a unique broker.id and broker.rack, listeners reachable
// where they are advertised (the inter-broker one on the compose network,
// the others through a port published on the host), zookeeper.connect
// naming the whole ensemble, and log.dirs on a volume; published host ports
// are unique; and the named volumes used are the ones declared.
func TestComposeFile(t *testing.T) {
	f := loadCompose(t)
	image := readDockerfile(t)

	var zks []zkNode
	var brokers []string
	hostPorts := map[int]string{}
	used := map[string]bool{}
	for _, name := range sortedKeys(f.Services) {
		s := f.Services[name]
		if s.Image == "" && s.Build == "" {
			t.Errorf("service %s has neither image nor build", name)
		}
		if s.Build != "" {
			if _, err := os.Stat(filepath.Join(repoRoot, s.Build, "Dockerfile")); err != nil {
				t.Errorf("service %s builds %q: %v", name, s.Build, err)
			}
		}
		ports, err := publishedPorts(s)
		if err != nil {
			t.Errorf("service %s: %v", name, err)
		}
		for h := range ports {
			if other, dup := hostPorts[h]; dup {
				t.Errorf("host port %d published by %s and %s", h, other, name)
			}
			hostPorts[h] = name
		}
		for _, m := range s.Volumes {
			if v, _, named := namedVolume(m); named {
				used[v] = true
				if _, ok := f.Volumes[v]; !ok {
					t.Errorf("service %s mounts volume %s, which the file does not declare", name, v)
				}
			}
		}
		isBroker := false
		for k := range s.Environment {
			isBroker = isBroker || strings.HasPrefix(k, broker.EnvPrefix)
		}
		switch {
		case strings.HasPrefix(s.Image, "zookeeper:"):
			zks = append(zks, zookeeperNode(t, name, s))
		case isBroker:
			brokers = append(brokers, name)
		default:
			t.Errorf("service %s is neither a ZooKeeper node (image zookeeper:*) nor a broker (KAFKA_CFG_ variables): add its checks here", name)
		}
	}
	for _, v := range sortedKeys(f.Volumes) {
		if !used[v] {
			t.Errorf("volume %s is declared but no service mounts it", v)
		}
	}

	// One ensemble: every node lists the same servers, which are exactly
	// the ZooKeeper services by their ids.
	if len(zks) < 3 || len(zks)%2 == 0 {
		t.Errorf("%d ZooKeeper nodes; want an odd ensemble of at least 3", len(zks))
	}
	for _, z := range zks {
		if len(z.servers) != len(zks) {
			t.Errorf("%s lists %d servers in ZOO_SERVERS; the file has %d ZooKeeper nodes", z.service, len(z.servers), len(zks))
		}
		for _, other := range zks {
			srv, ok := z.servers[other.id]
			if !ok || !f.Services[other.service].names(other.service, srv.host) {
				t.Errorf("%s's ZOO_SERVERS has server.%d = %+v; want %s (ZOO_MY_ID %d)", z.service, other.id, srv, other.service, other.id)
			}
		}
	}
	ids := map[int]string{}
	for _, z := range zks {
		if other, dup := ids[z.id]; dup {
			t.Errorf("ZOO_MY_ID %d on %s and %s", z.id, other, z.service)
		}
		ids[z.id] = z.service
	}

	if len(brokers) < 3 {
		t.Errorf("%d brokers; want at least 3", len(brokers))
	}
	brokerIDs, racks := map[int32]string{}, map[string]string{}
	for _, name := range brokers {
		s := f.Services[name]
		t.Run(name, func(t *testing.T) {
			cfg := brokerConfig(t, s, image.env)
			if other, dup := brokerIDs[cfg.BrokerID]; dup {
				t.Errorf("broker.id %d on %s and %s", cfg.BrokerID, other, name)
			}
			brokerIDs[cfg.BrokerID] = name
			if cfg.BrokerRack == "" {
				t.Errorf("no broker.rack")
			} else if other, dup := racks[cfg.BrokerRack]; dup {
				t.Errorf("broker.rack %s on %s and %s", cfg.BrokerRack, other, name)
			}
			racks[cfg.BrokerRack] = name
			if cfg.ReplicaSelectorClass != broker.RackAwareReplicaSelector {
				t.Errorf("replica.selector.class %q, want %s", cfg.ReplicaSelectorClass, broker.RackAwareReplicaSelector)
			}
			checkListeners(t, name, s, cfg)
			checkZooKeeperConnect(t, f, zks, cfg.ZooKeeperConnect)
			for _, z := range zks {
				if !slices.Contains(s.DependsOn, z.service) {
					t.Errorf("depends_on lacks %s", z.service)
				}
			}
			for _, dir := range cfg.LogDirs {
				mounted := false
				for _, m := range s.Volumes {
					if _, target, _ := namedVolume(m); target == dir {
						mounted = true
					}
				}
				if !mounted {
					t.Errorf("log dir %s is not a mounted volume: the data would die with the container", dir)
				}
			}
		})
	}
}

// zookeeperNode reads a ZooKeeper service's id and ensemble.
func zookeeperNode(t *testing.T, name string, s service) zkNode {
	t.Helper()
	id, err := strconv.Atoi(s.Environment["ZOO_MY_ID"])
	if err != nil || id < 1 {
		t.Errorf("%s: ZOO_MY_ID %q, want a positive integer", name, s.Environment["ZOO_MY_ID"])
	}
	servers, err := parseZooServers(s.Environment["ZOO_SERVERS"])
	if err != nil {
		t.Errorf("%s: ZOO_SERVERS: %v", name, err)
	}
	return zkNode{service: name, id: id, servers: servers}
}

// brokerConfig loads the broker's configuration as the container does:
// the image's server.properties, then the image's ENV and the service's
// environment, through the broker's own loader. A key the broker does not
// know, or knows and ignores, fails the test: it would do nothing.
func brokerConfig(t *testing.T, s service, imageEnv map[string]string) broker.Config {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, broker.EnvPrefix) {
			t.Setenv(k, "")
		}
	}
	for k, v := range imageEnv {
		t.Setenv(k, v)
	}
	for k, v := range s.Environment {
		if !strings.HasPrefix(k, broker.EnvPrefix) {
			t.Errorf("environment variable %s is not a configuration key (%s...)", k, broker.EnvPrefix)
			continue
		}
		t.Setenv(k, v)
	}
	core, logs := observer.New(zap.InfoLevel)
	cfg, err := broker.LoadConfig(filepath.Join(repoRoot, "config", "server.properties"), nil, zap.New(core))
	if err != nil {
		t.Fatalf("the broker refuses its configuration: %v", err)
	}
	for _, e := range logs.All() {
		if strings.HasSuffix(e.Message, "ignored") {
			t.Errorf("%s: %v", e.Message, e.ContextMap()["key"])
		}
	}
	return cfg
}

// checkListeners checks that every advertised listener reaches the broker:
// one advertised under the service's name on the compose network at the
// port it listens on, one advertised as localhost through a host port
// published to it. Listeners bind every address, and the inter-broker
// listener is on the compose network.
func checkListeners(t *testing.T, name string, s service, cfg broker.Config) {
	t.Helper()
	ports, _ := publishedPorts(s)
	inter := cfg.InterBrokerListenerName
	if inter == "" && len(cfg.Listeners) > 0 {
		inter = cfg.Listeners[0].Name
	}
	for _, l := range cfg.Listeners {
		if l.Host != "" && l.Host != "0.0.0.0" && l.Host != "::" {
			t.Errorf("listener %s binds %s only: unreachable from outside the container", l.Name, l.Host)
		}
	}
	for _, a := range cfg.AdvertisedListeners {
		i := slices.IndexFunc(cfg.Listeners, func(l broker.Listener) bool { return l.Name == a.Name })
		if i < 0 {
			t.Errorf("advertised listener %s has no listener", a.Name)
			continue
		}
		l := cfg.Listeners[i]
		switch {
		case s.names(name, a.Host):
			if a.Port != l.Port {
				t.Errorf("%s advertises %s:%d but listens on port %d", a.Name, a.Host, a.Port, l.Port)
			}
		case a.Host == "localhost" || a.Host == "127.0.0.1":
			if ctr, ok := ports[int(a.Port)]; !ok || ctr != int(l.Port) {
				t.Errorf("%s advertises %s:%d, but host port %d is not published to container port %d", a.Name, a.Host, a.Port, a.Port, l.Port)
			}
			if a.Name == inter {
				t.Errorf("the inter-broker listener %s is advertised as %s: other brokers cannot reach it", a.Name, a.Host)
			}
		default:
			t.Errorf("%s advertises %s, which neither the compose network nor the host resolves to this broker", a.Name, a.Host)
		}
	}
	if !slices.ContainsFunc(cfg.AdvertisedListeners, func(l broker.Listener) bool { return l.Name == inter }) {
		t.Errorf("the inter-broker listener %s is not advertised", inter)
	}
}

// checkZooKeeperConnect checks that zookeeper.connect names every node of
// the ensemble at its client port.
func checkZooKeeperConnect(t *testing.T, f composeFile, zks []zkNode, connect string) {
	t.Helper()
	hosts, _, _ := strings.Cut(connect, "/")
	var got []string
	for _, hp := range strings.Split(hosts, ",") {
		got = append(got, strings.TrimSpace(hp))
	}
	for _, z := range zks {
		srv := z.servers[z.id]
		found := slices.ContainsFunc(got, func(hp string) bool {
			host, port, _ := strings.Cut(hp, ":")
			return f.Services[z.service].names(z.service, host) && port == strconv.Itoa(srv.clientPort)
		})
		if !found {
			t.Errorf("zookeeper.connect %s does not name %s at client port %d", connect, z.service, srv.clientPort)
		}
	}
	if len(got) != len(zks) {
		t.Errorf("zookeeper.connect %s names %d servers; the ensemble has %d", connect, len(got), len(zks))
	}
}

// dockerImage is what the Dockerfile's stages say.
type dockerImage struct {
	env map[string]string // the runtime stage's ENV
}

// readDockerfile checks the Dockerfile's shape that the compose file relies
// on: a build stage that compiles cmd/gokafka and a separate, smaller
// runtime stage (not the Go toolchain image) that copies the binary from
// it and the repository's config/server.properties to
// /etc/gokafka/server.properties, and runs `gokafka server` on that file.
// It returns the runtime stage's ENV.
func readDockerfile(t *testing.T) dockerImage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	type stage struct {
		base, name string
		lines      []string
	}
	var stages []stage
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for strings.HasSuffix(line, `\`) && sc.Scan() {
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(sc.Text())
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			st := stage{base: fields[1]}
			if len(fields) == 4 && strings.EqualFold(fields[2], "AS") {
				st.name = fields[3]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %q before FROM", line)
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s); want a build stage and a runtime stage", len(stages))
	}
	build, run := stages[0], stages[len(stages)-1]
	has := func(st stage, pred func(string) bool) bool { return slices.ContainsFunc(st.lines, pred) }
	if build.name == "" || !has(build, func(l string) bool {
		return strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") && strings.Contains(l, "./cmd/gokafka")
	}) {
		t.Errorf("Dockerfile: the first stage (%s) is not a named stage that builds ./cmd/gokafka", build.base)
	}
	if strings.HasPrefix(run.base, "golang") || run.base == build.base {
		t.Errorf("Dockerfile: the runtime stage is based on %s, the toolchain image; want a small runtime image", run.base)
	}
	if !has(run, func(l string) bool {
		return strings.HasPrefix(l, "COPY --from="+build.name+" ") && strings.HasSuffix(l, " /usr/local/bin/gokafka")
	}) {
		t.Errorf("Dockerfile: the runtime stage does not copy the binary from stage %s to /usr/local/bin/gokafka", build.name)
	}
	if !has(run, func(l string) bool { return l == "COPY config/server.properties /etc/gokafka/server.properties" }) {
		t.Errorf("Dockerfile: the runtime stage does not install config/server.properties as /etc/gokafka/server.properties")
	}
	var entry []string
	env := map[string]string{}
	for _, l := range run.lines {
		if rest, ok := strings.CutPrefix(l, "ENTRYPOINT "); ok {
			if err := json.Unmarshal([]byte(rest), &entry); err != nil {
				t.Errorf("Dockerfile: ENTRYPOINT %s is not the exec form: %v", rest, err)
			}
		}
		if rest, ok := strings.CutPrefix(l, "ENV "); ok {
			k, v, ok := strings.Cut(rest, "=")
			if !ok {
				t.Errorf("Dockerfile: ENV %s: want key=value", rest)
			}
			env[k] = v
		}
	}
	if want := []string{"gokafka", "server", "/etc/gokafka/server.properties"}; !slices.Equal(entry, want) {
		t.Errorf("Dockerfile: ENTRYPOINT %q, want %q", entry, want)
	}
	return dockerImage{env: env}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
