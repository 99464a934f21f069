package broker

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// propertiesCodec decodes Java .properties files for viper, which dropped
// its built-in properties support. Keys stay flat ("log.dirs" is one key,
// not log -> dirs): Kafka has keys that are prefixes of other keys
// (broker.id and broker.id.generation.enable), which a nested map cannot
// hold.
type propertiesCodec struct{}

// Encode is required by viper's codec interface; gokafka never writes a
// configuration file.
func (propertiesCodec) Encode(map[string]any) ([]byte, error) {
	return nil, fmt.Errorf("writing properties files is not supported")
}

// Decode parses b with parseProperties into v.
func (propertiesCodec) Decode(b []byte, v map[string]any) error {
	props, err := parseProperties(b)
	if err != nil {
		return err
	}
	for k, val := range props {
		v[k] = val
	}
	return nil
}

// parseProperties reads the Java properties format as java.util.Properties
// does: '#' and '!' start comment lines, a key ends at the first unescaped
// '=', ':' or whitespace, a trailing backslash continues the logical line,
// and \t \n \r \f \uXXXX and \<char> are escapes. Later keys win.
func parseProperties(b []byte) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	lineNo := 0
	var logical strings.Builder
	continuing := false
	for sc.Scan() {
		lineNo++
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if !continuing {
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
			logical.Reset()
		}
		// A line ending in an odd number of backslashes continues.
		trail := len(line) - len(strings.TrimRight(line, `\`))
		if trail%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continuing = true
			continue
		}
		logical.WriteString(line)
		continuing = false
		k, v, err := splitProperty(logical.String())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	if continuing {
		k, v, err := splitProperty(logical.String())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		out[k] = v
	}
	return out, nil
}

// splitProperty splits one logical line into its unescaped key and value.
func splitProperty(line string) (string, string, error) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = i
			break
		}
	}
	key := line[:end]
	rest := strings.TrimLeft(line[end:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	k, err := unescapeProperty(key)
	if err != nil {
		return "", "", err
	}
	v, err := unescapeProperty(rest)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", k, err)
	}
	return k, v, nil
}

// unescapeProperty resolves the escapes of the properties format.
func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uxxxx escape")
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf("malformed \\uxxxx escape")
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
