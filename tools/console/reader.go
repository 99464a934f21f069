// Package console is `gokafka console-producer` and `gokafka
// console-consumer`, the counterparts of kafka-console-producer.sh and
// kafka-console-consumer.sh: one record per line of stdin, one line per
// record on stdout, with the stock tools' options, --property settings,
// output format and summary line.
package console

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// lineReader turns stdin lines into records as Kafka's LineMessageReader
// does, configured by --property:
//
//	parse.key=true          split each line at key.separator (default tab)
//	parse.headers=true      a headers prefix, ended by headers.delimiter
//	                        (tab), of headers.separator (,)-separated
//	                        key headers.key.separator (:) value pairs
//	null.marker=S           a key, value or header value equal to S is null
//	ignore.error=true       a line without the separator is all value
//	                        rather than an error
type lineReader struct {
	r             *bufio.Reader
	line          int
	parseKey      bool
	keySep        []byte
	parseHeaders  bool
	headersDelim  []byte
	headersSep    []byte
	headersKeySep []byte
	ignoreError   bool
	nullMarker    []byte
	hasNullMarker bool
	topic         string
}

func newLineReader(r io.Reader, topic string, props map[string]string) (*lineReader, error) {
	lr := &lineReader{
		r:             bufio.NewReaderSize(r, 1<<16),
		topic:         topic,
		keySep:        []byte("\t"),
		headersDelim:  []byte("\t"),
		headersSep:    []byte(","),
		headersKeySep: []byte(":"),
	}
	var err error
	for k, v := range props {
		switch k {
		case "parse.key":
			lr.parseKey, err = strconv.ParseBool(v)
		case "key.separator":
			lr.keySep = []byte(v)
		case "parse.headers":
			lr.parseHeaders, err = strconv.ParseBool(v)
		case "headers.delimiter":
			lr.headersDelim = []byte(v)
		case "headers.separator":
			lr.headersSep = []byte(v)
		case "headers.key.separator":
			lr.headersKeySep = []byte(v)
		case "ignore.error":
			lr.ignoreError, err = strconv.ParseBool(v)
		case "null.marker":
			lr.nullMarker, lr.hasNullMarker = []byte(v), true
		}
		if err != nil {
			return nil, fmt.Errorf("Invalid value %s for property %s: %w", v, k, err)
		}
	}
	if lr.hasNullMarker && (bytes.Equal(lr.nullMarker, lr.keySep) || bytes.Equal(lr.nullMarker, lr.headersDelim)) {
		return nil, fmt.Errorf("null.marker and key.separator or headers.delimiter cannot be equal")
	}
	return lr, nil
}

// next returns the next record, or io.EOF after the last line. A line
// ends at "\n" or "\r\n", as Java's BufferedReader.readLine reads it; a
// last line without a newline still counts.
func (lr *lineReader) next() (*kgo.Record, error) {
	line, err := lr.r.ReadBytes('\n')
	if len(line) == 0 && err != nil {
		return nil, err
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	lr.line++
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	rec := &kgo.Record{Topic: lr.topic}
	if lr.parseHeaders {
		i := bytes.Index(line, lr.headersDelim)
		switch {
		case i >= 0:
			hs := line[:i]
			line = line[i+len(lr.headersDelim):]
			for _, h := range bytes.Split(hs, lr.headersSep) {
				k, v, ok := bytes.Cut(h, lr.headersKeySep)
				if !ok {
					return nil, fmt.Errorf("No header key separator found in pair '%s' on line number %d", h, lr.line)
				}
				rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: string(k), Value: lr.nullable(v)})
			}
		case !lr.ignoreError:
			return nil, fmt.Errorf("No headers delimiter found on line number %d: '%s'", lr.line, line)
		}
	}
	if lr.parseKey {
		i := bytes.Index(line, lr.keySep)
		switch {
		case i >= 0:
			rec.Key = lr.nullable(line[:i])
			line = line[i+len(lr.keySep):]
		case !lr.ignoreError:
			return nil, fmt.Errorf("No key separator found on line number %d: '%s'", lr.line, line)
		}
	}
	rec.Value = lr.nullable(line)
	if rec.Value != nil && len(rec.Value) == 0 {
		rec.Value = []byte{} // an empty line is an empty value, not null
	}
	return rec, nil
}

// nullable returns b, or nil for the null marker. ReadBytes gives each
// line its own slice, so records may keep parts of it.
func (lr *lineReader) nullable(b []byte) []byte {
	if lr.hasNullMarker && bytes.Equal(b, lr.nullMarker) {
		return nil
	}
	return b
}
