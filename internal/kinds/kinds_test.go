package kinds

import (
	"slices"
	"testing"
)

type def struct{ kind, summary string }

func (d def) KindName() string { return d.kind }

func TestLookupAndNames(t *testing.T) {
	table := []def{{"http", "a request"}, {"dns", "records"}}
	if d, ok := Lookup(table, "dns"); !ok || d.summary != "records" {
		t.Errorf("Lookup(dns) = %+v, %v", d, ok)
	}
	if _, ok := Lookup(table, "tcp"); ok {
		t.Error("Lookup found a kind the table lacks")
	}
	if got := Names(table); !slices.Equal(got, []string{"dns", "http"}) {
		t.Errorf("Names = %v, want sorted", got)
	}
}
