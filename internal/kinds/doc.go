// Package kinds looks up the tables of kinds the registries keep — probe
// kinds in probes, action kinds in runbook/actions: one definition per
// kind, found by its name.
package kinds
