package wire

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// VersionRange is the inclusive range of versions the broker implements for
// one API key.
type VersionRange struct {
	Min, Max int16
}

// Versions maps an API key to the versions this broker implements. It is
// built once at start and never mutated, so ApiVersions advertises exactly
// what the handlers serve.
type Versions map[int16]VersionRange

// Supports reports whether key is implemented at version v.
func (vs Versions) Supports(key, v int16) bool {
	r, ok := vs[key]
	return ok && v >= r.Min && v <= r.Max
}

// APIKeys returns the table as ApiVersions response entries sorted by API
// key, the order Kafka lists them in. The broker's ApiVersions handler and
// ServeConn's KIP-511 fallback share it so both advertise the same table.
func (vs Versions) APIKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(vs))
	for k, r := range vs {
		e := kmsg.NewApiVersionsResponseApiKey()
		e.ApiKey, e.MinVersion, e.MaxVersion = k, r.Min, r.Max
		keys = append(keys, e)
	}
	slices.SortFunc(keys, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey) - int(b.ApiKey) })
	return keys
}
