package groupcoord

import (
	"testing"
	"time"
)

func TestSelectProtocol(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members [][]string // each member's protocols, most preferred first
		want    string
	}{
		{"one member, first preference", [][]string{{"cooperative-sticky", "range"}}, "cooperative-sticky"},
		{"majority vote", [][]string{{"range", "roundrobin"}, {"roundrobin", "range"}, {"roundrobin", "range"}}, "roundrobin"},
		{"only common protocols count", [][]string{{"sticky", "range"}, {"range"}}, "range"},
		{"tie broken by name", [][]string{{"b", "a"}, {"a", "b"}}, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGroup("g", nil, time.Now())
			for i, names := range tc.members {
				m := &member{id: string(rune('a' + i)), protocolType: "consumer"}
				for _, n := range names {
					m.protocols = append(m.protocols, protocol{name: n})
				}
				g.addMember(m)
			}
			if got := g.selectProtocol(); got != tc.want {
				t.Fatalf("selected %q, want %q", got, tc.want)
			}
		})
	}
}
