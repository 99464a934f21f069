package perftest

import (
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	specs := []argSpec{{"topic", argValue}, {"throughput", argValue}, {"props", argList}, {"metrics", argSwitch}}
	tests := []struct {
		name    string
		args    []string
		want    parsedArgs
		wantErr bool
	}{
		{name: "value forms", args: []string{"--topic", "t", "--throughput=-1"}, want: parsedArgs{"topic": {"t"}, "throughput": {"-1"}}},
		{name: "negative value as separate argument", args: []string{"--throughput", "-1"}, want: parsedArgs{"throughput": {"-1"}}},
		{name: "list runs to next option", args: []string{"--props", "a=1", "b=2", "--metrics", "--topic", "t"}, want: parsedArgs{"props": {"a=1", "b=2"}, "metrics": {}, "topic": {"t"}}},
		{name: "list repeated accumulates", args: []string{"--props", "a=1", "--props=b=2"}, want: parsedArgs{"props": {"a=1", "b=2"}}},
		{name: "unknown option", args: []string{"--nope", "x"}, wantErr: true},
		{name: "missing value at end", args: []string{"--topic"}, wantErr: true},
		{name: "missing value before option", args: []string{"--topic", "--metrics"}, wantErr: true},
		{name: "empty list", args: []string{"--props", "--metrics"}, wantErr: true},
		{name: "switch with value", args: []string{"--metrics=yes"}, wantErr: true},
		{name: "positional", args: []string{"stray"}, wantErr: true},
		{name: "bare double dash", args: []string{"--"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args, specs)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParsedArgsLastWins(t *testing.T) {
	p, err := parseArgs([]string{"--topic", "a", "--topic", "b"}, []argSpec{{"topic", argValue}})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := p.last("topic"); !ok || v != "b" {
		t.Fatalf("last(topic) = %q, %v; want b, true", v, ok)
	}
}
