// Package javaprops reads Java .properties files, the format of Kafka's
// server.properties, of the clients' --producer.config and
// --consumer.config files and of a log dir's meta.properties. Every reader
// of those files in gokafka goes through Parse, which uses
// github.com/magiconair/properties, so that they all read a file alike:
// before, three hand-written parsers disagreed (one read "acks all" as the
// key "acks all").
//
// The format is java.util.Properties.load's: '#' and '!' start comment
// lines; a key ends at the first unescaped '=', ':' or white space; a line
// ending in an odd number of backslashes continues on the next, whose
// leading white space is dropped; \t \n \r \f \uXXXX and \<char> are
// escapes; a later key wins. Two choices differ from Java's loader:
//   - the bytes are read as UTF-8, not ISO-8859-1 (a non-ASCII value means
//     what the file's author typed);
//   - values are trimmed of surrounding white space, as Kafka's ConfigDef
//     trims every value it parses, so "linger.ms = 5 " is 5 everywhere.
//
// ${name} references are not expanded (Java has none).
package javaprops

import (
	"fmt"
	"os"
	"strings"

	"github.com/magiconair/properties"
)

// Parse reads b as a properties file and returns its keys and values.
func Parse(b []byte) (map[string]string, error) {
	l := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	p, err := l.LoadBytes(b)
	if err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	m := p.Map()
	for k, v := range m {
		m[k] = strings.TrimSpace(v)
	}
	return m, nil
}

// ReadFile parses the properties file at path.
func ReadFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
