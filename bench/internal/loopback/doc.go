// Package loopback is the address flag of the bench servers: they listen
// on a loopback address only.
package loopback
