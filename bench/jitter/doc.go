// Command jitter is the reference-style target of the load benchmarks: a
// loopback HTTP server whose /jitter answers in 5 ms typically, with a tail
// — every 20th request takes 50 ms and every 100th 500 ms (so 94 % 5 ms,
// 5 % 50 ms, 1 % 500 ms, in a fixed order) — and whose other paths answer
// at once. The server never queues: every request is served on its own
// goroutine, so a request's latency is its delay alone.
package main
