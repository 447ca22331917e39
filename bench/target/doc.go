// Command target is the benchmark's minimal HTTP server: it answers every
// request with 200 and two bytes, on a loopback address only, so that the
// load generators, not the server's work, are what the benchmark compares.
//
// It imports only the standard library and the bench servers' address
// flag (bench/internal/loopback); nothing imports it.
package main
