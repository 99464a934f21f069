package console

import (
	"bufio"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// formatter writes records as Kafka's DefaultMessageFormatter does. Fields
// appear in a fixed order, each followed by key.separator when another
// printed field follows:
//
//	CreateTime:<ms>  Partition:<p>  Offset:<o>  <headers>  <key>  <value><line.separator>
//
// Headers print as k:v pairs joined by headers.separator, or NO_HEADERS;
// a null key, value or header value prints as null.marker ("null").
type formatter struct {
	printTimestamp, printPartition, printOffset, printHeaders, printKey, printValue bool

	keySep, lineSep, headersSep, headersKeySep, nullLiteral string
}

func newFormatter(props map[string]string) (*formatter, error) {
	f := &formatter{
		printValue:    true,
		keySep:        "\t",
		lineSep:       "\n",
		headersSep:    ",",
		headersKeySep: ":",
		nullLiteral:   "null",
	}
	bools := map[string]*bool{
		"print.timestamp": &f.printTimestamp, "print.partition": &f.printPartition,
		"print.offset": &f.printOffset, "print.headers": &f.printHeaders,
		"print.key": &f.printKey, "print.value": &f.printValue,
	}
	strs := map[string]*string{
		"key.separator": &f.keySep, "line.separator": &f.lineSep,
		"headers.separator": &f.headersSep, "headers.key.separator": &f.headersKeySep,
		"null.literal": &f.nullLiteral,
	}
	for k, v := range props {
		if p, ok := bools[k]; ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("Invalid value %s for property %s: not a boolean", v, k)
			}
			*p = b
		} else if p, ok := strs[k]; ok {
			*p = v
		}
	}
	return f, nil
}

func (f *formatter) write(w *bufio.Writer, r *kgo.Record) {
	fields := []bool{f.printTimestamp, f.printPartition, f.printOffset, f.printHeaders, f.printKey, f.printValue}
	// more reports whether any field after index i is printed.
	more := func(i int) bool {
		for _, p := range fields[i+1:] {
			if p {
				return true
			}
		}
		return false
	}
	sep := func(i int) {
		if more(i) {
			w.WriteString(f.keySep)
		}
	}
	if f.printTimestamp {
		if r.Attrs.TimestampType() == 1 {
			w.WriteString("LogAppendTime:")
		} else {
			w.WriteString("CreateTime:")
		}
		w.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		sep(0)
	}
	if f.printPartition {
		w.WriteString("Partition:" + strconv.Itoa(int(r.Partition)))
		sep(1)
	}
	if f.printOffset {
		w.WriteString("Offset:" + strconv.FormatInt(r.Offset, 10))
		sep(2)
	}
	if f.printHeaders {
		if len(r.Headers) == 0 {
			w.WriteString("NO_HEADERS")
		}
		for i, h := range r.Headers {
			if i > 0 {
				w.WriteString(f.headersSep)
			}
			w.WriteString(h.Key + f.headersKeySep)
			f.bytes(w, h.Value)
		}
		sep(3)
	}
	if f.printKey {
		f.bytes(w, r.Key)
		sep(4)
	}
	if f.printValue {
		f.bytes(w, r.Value)
		w.WriteString(f.lineSep)
	}
}

func (f *formatter) bytes(w *bufio.Writer, b []byte) {
	if b == nil {
		w.WriteString(f.nullLiteral)
		return
	}
	w.Write(b)
}
