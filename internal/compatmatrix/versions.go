package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// nodeModules is where .ci/run installs the Node clients (npm ci).
const nodeModules = "compat-tests/node/node_modules"

// source is where one installed component's version is read.
type source struct {
	kind string // "go" (a module of go.mod), "deb" (a Debian package) or "npm"
	name string
}

// clients maps each matrix row to the components whose versions it shows:
// the client itself and the library under it.
var clients = map[string][]source{
	"franz-go":               {{"go", "github.com/twmb/franz-go"}},
	"sarama":                 {{"go", "github.com/IBM/sarama"}},
	"kafka-go":               {{"go", "github.com/segmentio/kafka-go"}},
	"kcat":                   {{"deb", "kcat"}, {"deb", "librdkafka1"}},
	"confluent-kafka-python": {{"deb", "python3-confluent-kafka"}, {"deb", "librdkafka1"}},
	"kafka-python":           {{"deb", "python3-kafka"}},
	"kafkajs":                {{"npm", "kafkajs"}},
}

// clientVersions returns "name version, ..." per client, with "not
// installed" (or the lookup error) for what it cannot find.
func clientVersions(names []string) map[string]string {
	out := map[string]string{}
	for _, cl := range names {
		var parts []string
		for _, s := range clients[cl] {
			v, err := s.version()
			if err != nil {
				v = "unknown: " + err.Error()
			}
			label := s.name
			if s.kind == "go" {
				label = filepath.Base(s.name)
			}
			parts = append(parts, fmt.Sprintf("%s %s (%s)", label, v, s.kind))
		}
		out[cl] = strings.Join(parts, ", ")
	}
	return out
}

// version looks the component's version up.
func (s source) version() (string, error) {
	switch s.kind {
	case "go":
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", s.name).Output()
		if err != nil {
			return "", fmt.Errorf("go list -m %s: %w", s.name, err)
		}
		return strings.TrimSpace(string(out)), nil
	case "deb":
		out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}|${Version}", s.name).Output()
		if err != nil {
			// A missing package is a fact for the matrix, not an error.
			return "not installed", nil
		}
		status, v, _ := strings.Cut(string(out), "|")
		if !strings.HasSuffix(status, " installed") {
			return "not installed", nil
		}
		return v, nil
	case "npm":
		data, err := os.ReadFile(filepath.Join(nodeModules, s.name, "package.json"))
		if os.IsNotExist(err) {
			return "not installed", nil
		}
		if err != nil {
			return "", fmt.Errorf("read %s's package.json: %w", s.name, err)
		}
		var pkg struct{ Version string }
		if err := json.Unmarshal(data, &pkg); err != nil {
			return "", fmt.Errorf("parse %s's package.json: %w", s.name, err)
		}
		return pkg.Version, nil
	}
	return "", fmt.Errorf("unknown source kind %q", s.kind)
}
