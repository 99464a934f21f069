package wire

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
