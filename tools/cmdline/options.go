// Package cmdline is what gokafka's Kafka-compatible tools (topics,
// console-producer, console-consumer, consumer-groups) share: option
// parsing with the stock scripts' conventions, their usage text, exit
// codes, and the admin client built from --bootstrap-server and
// --command-config.
//
// Kafka's tools parse options with jopt-simple, so scripts rely on its
// conventions: "--name value" and "--name=value", an option given twice
// keeps both values (--property a=b --property c=d), and any unambiguous
// prefix of a long option names it (--bootstrap for --bootstrap-server).
// Parse follows them; unknown and ambiguous options are errors that the
// tool reports with its usage and exit status 1, as
// CommandLineUtils.printUsageAndExit does.
package cmdline

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Kind says whether an option takes a value.
type Kind int

const (
	// Switch takes no value (--list).
	Switch Kind = iota
	// Value takes exactly one value, "--name v" or "--name=v".
	Value
	// OptionalValue takes a value only in the "--name=v" form or when the
	// next argument does not start with "--" (--compression-codec alone
	// means its default).
	OptionalValue
)

// Option describes one long option of a tool.
type Option struct {
	Name string
	Kind Kind
	// Arg names the value in the usage text ("topic", "server to connect to").
	Arg  string
	Help string
	// Default is shown in the usage text; the tool applies it itself.
	Default string
}

// Values holds what was given for each option: every value in order, an
// empty slice for a switch. An option not given has no entry.
type Values map[string][]string

// Has reports whether the option was given.
func (v Values) Has(name string) bool {
	_, ok := v[name]
	return ok
}

// Get returns the option's first value (jopt-simple's valueOf) or def.
func (v Values) Get(name, def string) string {
	if vs := v[name]; len(vs) > 0 {
		return vs[0]
	}
	return def
}

// All returns every value given for the option.
func (v Values) All(name string) []string { return v[name] }

// UsageError is a command line the tool refuses: it prints the message,
// then the usage, and exits 1.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ErrHelp is returned by Parse when --help was given: the tool prints its
// usage to stdout and exits 0.
var ErrHelp = errors.New("help requested")

// ErrVersion is returned by Parse when --version was given.
var ErrVersion = errors.New("version requested")

// Tool is a tool's option set and description.
type Tool struct {
	Name        string // "topics", for messages
	Description string // the first line of the usage text
	Options     []Option
}

// standard are the options every Kafka tool has (CommandDefaultOptions).
var standard = []Option{
	{Name: "help", Kind: Switch, Help: "Print usage information."},
	{Name: "version", Kind: Switch, Help: "Display Kafka version."},
}

func (t *Tool) all() []Option {
	return append(append([]Option(nil), t.Options...), standard...)
}

// lookup resolves a name or an unambiguous prefix of one.
func (t *Tool) lookup(name string) (Option, error) {
	var matches []Option
	for _, o := range t.all() {
		if o.Name == name {
			return o, nil
		}
		if strings.HasPrefix(o.Name, name) {
			matches = append(matches, o)
		}
	}
	switch len(matches) {
	case 0:
		return Option{}, Usagef("%s is not a recognized option", name)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = m.Name
	}
	return Option{}, Usagef("Option(s) [%s] are ambiguous, possible matches: %s", name, strings.Join(names, ", "))
}

// Parse parses args. --help and --version anywhere win over every other
// problem but an unknown option, as in the Java tools.
func (t *Tool) Parse(args []string) (Values, error) {
	out := Values{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
			return nil, Usagef("Found non-option argument(s): %s", arg)
		}
		name, inline, hasInline := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		o, err := t.lookup(name)
		if err != nil {
			return nil, err
		}
		switch o.Kind {
		case Switch:
			if hasInline {
				return nil, Usagef("Option %s does not take an argument", o.Name)
			}
			if !out.Has(o.Name) {
				out[o.Name] = []string{}
			}
		case Value:
			if !hasInline {
				if i+1 >= len(args) {
					return nil, Usagef("Option %s requires an argument", o.Name)
				}
				i++
				inline = args[i]
			}
			out[o.Name] = append(out[o.Name], inline)
		case OptionalValue:
			if !hasInline && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
				i++
				inline, hasInline = args[i], true
			}
			if hasInline {
				out[o.Name] = append(out[o.Name], inline)
			} else if !out.Has(o.Name) {
				out[o.Name] = []string{}
			}
		}
	}
	if out.Has("help") {
		return out, ErrHelp
	}
	if out.Has("version") {
		return out, ErrVersion
	}
	return out, nil
}

// maxUsageColumn is the widest option column of the usage text; longer
// option names print on a line of their own.
const maxUsageColumn = 40

// PrintUsage writes the description and an option table in jopt-simple's
// layout: options sorted by name, "(default: x)" after the help.
func (t *Tool) PrintUsage(w io.Writer) {
	opts := t.all()
	sort.Slice(opts, func(i, j int) bool { return opts[i].Name < opts[j].Name })
	left := make([]string, len(opts))
	width := len("Option")
	for i, o := range opts {
		s := "--" + o.Name
		switch o.Kind {
		case Value:
			s += " <" + o.Arg + ">"
		case OptionalValue:
			s += " [" + o.Arg + "]"
		}
		left[i] = s
		if len(s) <= maxUsageColumn {
			width = max(width, len(s))
		}
	}
	if t.Description != "" {
		fmt.Fprintln(w, t.Description)
	}
	fmt.Fprintf(w, "%-*s  %s\n", width, "Option", "Description")
	fmt.Fprintf(w, "%-*s  %s\n", width, "------", "-----------")
	for i, o := range opts {
		help := o.Help
		if o.Default != "" {
			help += " (default: " + o.Default + ")"
		}
		lines := strings.Split(help, "\n")
		if len(left[i]) > width {
			// A long option and argument name gets a line of its own.
			fmt.Fprintln(w, left[i])
			left[i] = ""
		}
		fmt.Fprintf(w, "%-*s  %s\n", width, left[i], lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "%-*s  %s\n", width, "", l)
		}
	}
}

// CheckExclusive fails unless exactly one of the actions was given, with
// the stock tools' message.
func CheckExclusive(v Values, msg string, actions ...string) error {
	n := 0
	for _, a := range actions {
		if v.Has(a) {
			n++
		}
	}
	if n != 1 {
		return &UsageError{Msg: msg}
	}
	return nil
}

// CheckRequired fails with jopt-simple's "Missing required argument" for
// the first option not given (CommandLineUtils.checkRequiredArgs).
func CheckRequired(v Values, names ...string) error {
	for _, n := range names {
		if !v.Has(n) {
			return Usagef("Missing required argument \"[%s]\"", n)
		}
	}
	return nil
}

// CheckInvalid fails when option is combined with any of the others
// (CommandLineUtils.checkInvalidArgs), with Kafka's message.
func CheckInvalid(v Values, option string, others ...string) error {
	if !v.Has(option) {
		return nil
	}
	for _, o := range others {
		if v.Has(o) {
			return Usagef("Option \"[%s]\" can't be used with option \"[%s]\"", option, o)
		}
	}
	return nil
}
