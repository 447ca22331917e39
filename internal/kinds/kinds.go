package kinds

import "slices"

// Named is a registry entry that says its kind's name.
type Named interface{ KindName() string }

// Lookup returns the entry of table named kind.
func Lookup[D Named](table []D, kind string) (D, bool) {
	for _, d := range table {
		if d.KindName() == kind {
			return d, true
		}
	}
	var zero D
	return zero, false
}

// Names lists the kinds of table, sorted.
func Names[D Named](table []D) []string {
	names := make([]string, 0, len(table))
	for _, d := range table {
		names = append(names, d.KindName())
	}
	slices.Sort(names)
	return names
}
