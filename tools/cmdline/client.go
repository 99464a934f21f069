package cmdline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/javaprops"
)

// Kafka's admin client defaults (AdminClientConfig).
const (
	defaultAPITimeout     = 60 * time.Second // default.api.timeout.ms
	defaultRequestTimeout = 30 * time.Second // request.timeout.ms
	// dialTimeout bounds the reachability check of the bootstrap servers.
	dialTimeout = 10 * time.Second
)

// ClientConfig is what the admin side of a tool connects with: the
// bootstrap servers and the --command-config properties resolved.
type ClientConfig struct {
	Bootstrap      []string
	ClientID       string
	APITimeout     time.Duration // default.api.timeout.ms: bounds each command
	RequestTimeout time.Duration
	// Warnings name properties accepted but not applied, as the Java
	// client's "supplied but isn't a known config" lines.
	Warnings []string
}

// LoadClientConfig reads --command-config (may be "") and applies
// --bootstrap-server over its bootstrap.servers, as the Java tools do.
func LoadClientConfig(bootstrap, commandConfig, defaultClientID string) (ClientConfig, error) {
	props, err := MergeProps(commandConfig, nil)
	if err != nil {
		return ClientConfig{}, err
	}
	if bootstrap != "" {
		props["bootstrap.servers"] = bootstrap
	}
	return ResolveClientConfig(props, defaultClientID)
}

// ResolveClientConfig maps admin client properties onto a ClientConfig.
// Only PLAINTEXT is spoken: a security.protocol other than PLAINTEXT is an
// error rather than a silent downgrade.
func ResolveClientConfig(props map[string]string, defaultClientID string) (ClientConfig, error) {
	c := ClientConfig{ClientID: defaultClientID, APITimeout: defaultAPITimeout, RequestTimeout: defaultRequestTimeout}
	// In key order, so that the first bad property reported is stable.
	for _, k := range slices.Sorted(maps.Keys(props)) {
		v := strings.TrimSpace(props[k])
		var err error
		switch k {
		case "bootstrap.servers":
			c.Bootstrap = SplitList(v)
		case "client.id":
			c.ClientID = v
		case "default.api.timeout.ms":
			c.APITimeout, err = millis(v)
		case "request.timeout.ms":
			c.RequestTimeout, err = millis(v)
		case "security.protocol":
			if !strings.EqualFold(v, "PLAINTEXT") {
				err = fmt.Errorf("only PLAINTEXT is supported by gokafka's tools")
			}
		default:
			c.Warnings = append(c.Warnings, fmt.Sprintf("The configuration '%s' was supplied but isn't a known config.", k))
		}
		if err != nil {
			return ClientConfig{}, fmt.Errorf("Invalid value %s for configuration %s: %w", v, k, err)
		}
	}
	if len(c.Bootstrap) == 0 {
		return ClientConfig{}, Usagef("--bootstrap-server must be specified")
	}
	return c, nil
}

func millis(v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a non-negative int")
	}
	return time.Duration(n) * time.Millisecond, nil
}

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Opts returns the franz-go options for c, plus extra.
func (c ClientConfig) Opts(extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(c.Bootstrap...),
		kgo.ClientID(c.ClientID),
		kgo.RequestTimeoutOverhead(c.RequestTimeout),
		kgo.RetryTimeout(c.APITimeout),
	}, extra...)
}

// ErrUnreachable is returned by CheckReachable when no bootstrap server
// accepts a connection.
var ErrUnreachable = errors.New("no bootstrap server is reachable")

// CheckReachable dials each server until one accepts a TCP connection.
// The Java tools wait out default.api.timeout.ms and then report a
// timeout that does not say which address was wrong; a tool that cannot
// reach any bootstrap server fails at once, naming them.
func CheckReachable(ctx context.Context, servers []string) error {
	var errs []string
	d := net.Dialer{Timeout: dialTimeout}
	for _, s := range servers {
		addr := s
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("Invalid url in bootstrap.servers: %s", s)
		}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		errs = append(errs, err.Error())
	}
	return fmt.Errorf("%w: %s (%s)", ErrUnreachable, strings.Join(servers, ","), strings.Join(errs, "; "))
}

// NewClient checks that a bootstrap server answers and returns a franz-go
// client for c.
func NewClient(ctx context.Context, c ClientConfig, extra ...kgo.Opt) (*kgo.Client, error) {
	if err := CheckReachable(ctx, c.Bootstrap); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(c.Opts(extra...)...)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return cl, nil
}

// ParseProperty splits "k=v" at the first '=' (--property,
// --producer-property, --config): the key must be non-empty.
func ParseProperty(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return "", "", fmt.Errorf("Invalid property: %s (want key=value)", s)
	}
	return strings.TrimSpace(k), v, nil
}

// MergeProps reads a properties file (may be "") and applies key=value
// overrides on top, as the tools' --x.config and --x-property pairs do.
func MergeProps(file string, overrides []string) (map[string]string, error) {
	props := map[string]string{}
	if file != "" {
		var err error
		if props, err = javaprops.ReadFile(file); err != nil {
			return nil, err
		}
	}
	for _, p := range overrides {
		k, v, err := ParseProperty(p)
		if err != nil {
			return nil, err
		}
		props[k] = v
	}
	return props, nil
}
