package broker

import (
	"fmt"

	"github.com/gokafka/gokafka/internal/javaprops"
)

// propertiesCodec decodes Java .properties files for viper, which dropped
// its built-in properties support, with the reader every properties file
// in gokafka goes through (internal/javaprops). Keys stay flat ("log.dirs"
// is one key, not log -> dirs): Kafka has keys that are prefixes of other
// keys (broker.id and broker.id.generation.enable), which a nested map
// cannot hold.
type propertiesCodec struct{}

// Encode is required by viper's codec interface; gokafka never writes a
// configuration file.
func (propertiesCodec) Encode(map[string]any) ([]byte, error) {
	return nil, fmt.Errorf("writing properties files is not supported")
}

// Decode parses b into v.
func (propertiesCodec) Decode(b []byte, v map[string]any) error {
	props, err := javaprops.Parse(b)
	if err != nil {
		return err
	}
	for k, val := range props {
		v[k] = val
	}
	return nil
}
