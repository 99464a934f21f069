package perftest

import (
	"fmt"
	"strings"
)

// argKind says how many values a long option takes.
type argKind int

const (
	// argSwitch takes no value (--print-metrics).
	argSwitch argKind = iota
	// argValue takes exactly one value, as "--name v" or "--name=v".
	argValue
	// argList takes one or more values: every following argument up to the
	// next one starting with "--" (--producer-props a=b c=d), like
	// argparse4j's nargs("+").
	argList
)

// argSpec describes one long option a tool accepts.
type argSpec struct {
	name string
	kind argKind
}

// parsedArgs holds the values seen for each option; a switch that was given
// holds an empty slice, an option not given has no entry.
type parsedArgs map[string][]string

// has reports whether the option was given.
func (p parsedArgs) has(name string) bool {
	_, ok := p[name]
	return ok
}

// last returns the last value given for the option (later flags win, as in
// the Java tools) and whether it was given.
func (p parsedArgs) last(name string) (string, bool) {
	v, ok := p[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// parseArgs parses Kafka-tool style long options. It never panics on bad
// input: unknown options, missing values and stray positional arguments are
// errors naming the argument.
func parseArgs(args []string, specs []argSpec) (parsedArgs, error) {
	byName := make(map[string]argKind, len(specs))
	for _, s := range specs {
		byName[s.name] = s.kind
	}
	out := parsedArgs{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "--") || arg == "--" {
			return nil, fmt.Errorf("unexpected argument %q", arg)
		}
		name, inline, hasInline := strings.Cut(arg[2:], "=")
		kind, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("unrecognized option --%s", name)
		}
		switch kind {
		case argSwitch:
			if hasInline {
				return nil, fmt.Errorf("option --%s takes no value", name)
			}
			if _, seen := out[name]; !seen {
				out[name] = []string{}
			}
		case argValue:
			if hasInline {
				out[name] = append(out[name], inline)
				continue
			}
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
				return nil, fmt.Errorf("option --%s requires a value", name)
			}
			i++
			out[name] = append(out[name], args[i])
		case argList:
			vals := out[name]
			if hasInline {
				vals = append(vals, inline)
			}
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
				i++
				vals = append(vals, args[i])
			}
			if len(vals) == len(out[name]) {
				return nil, fmt.Errorf("option --%s requires at least one value", name)
			}
			out[name] = vals
		}
	}
	return out, nil
}
